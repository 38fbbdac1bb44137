using Npgsql;

namespace Tokage.ControlPlane.Tests;

/// <summary>The database, not the application, keeps tenants apart: these queries run as the services' role, by hand.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class RowLevelSecurityTests(ControlPlaneStack stack)
{
    [Fact]
    public async Task WithoutATenantNothingIsVisibleAndWithOneOnlyItsRows()
    {
        var acme = await stack.CreateTenantAsync("rls-acme");
        var globex = await stack.CreateTenantAsync("rls-globex");
        var acmeId = (string)acme["tenant_id"]!;
        var globexId = (string)globex["tenant_id"]!;
        await stack.PostAsync($"/v1/tenants/{acmeId}/users", new { user_id = "u-1" });
        await stack.PostAsync($"/v1/tenants/{acmeId}/keys", new { name = "second" });
        await stack.PostAsync($"/v1/tenants/{globexId}/users", new { user_id = "u-9" });

        await using var connection = new NpgsqlConnection(stack.AppRoleConnectionString);
        await connection.OpenAsync();

        foreach (var table in (string[])["api_keys", "users", "teams", "team_members", "projects"])
        {
            Assert.Equal(0L, await ScalarAsync<long>(connection, $"SELECT count(*) FROM {table}"));
        }

        Assert.Equal([acmeId], await TenantIdsAsync(connection, acmeId, "api_keys"));
        Assert.Equal(2, await CountInScopeAsync(connection, acmeId, "api_keys"));
        Assert.Equal([acmeId], await TenantIdsAsync(connection, acmeId, "users"));
        Assert.Equal([globexId], await TenantIdsAsync(connection, globexId, "api_keys"));
        Assert.Equal([globexId], await TenantIdsAsync(connection, globexId, "users"));
        Assert.Empty(await TenantIdsAsync(connection, Guid.NewGuid().ToString(), "api_keys"));

        // The setting ends with its transaction: a pooled connection carries no tenant into the next one.
        Assert.Equal(0L, await ScalarAsync<long>(connection, "SELECT count(*) FROM api_keys"));
    }

    [Fact]
    public async Task TheServicesRoleCannotWriteAcrossTenantsNorSwitchTheRulesOff()
    {
        var acmeId = (string)(await stack.CreateTenantAsync("rls-writer-acme"))["tenant_id"]!;
        var globexId = (string)(await stack.CreateTenantAsync("rls-writer-globex"))["tenant_id"]!;
        await stack.PostAsync($"/v1/tenants/{globexId}/users", new { user_id = "victim" });

        await using var connection = new NpgsqlConnection(stack.AppRoleConnectionString);
        await connection.OpenAsync();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await ExecuteAsync(connection, $"SELECT set_config('tokage.tenant_id', '{acmeId}', true)");
            var insert = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection,
                $"INSERT INTO users (id, tenant_id, external_id, created_at) VALUES (gen_random_uuid(), '{globexId}', 'intruder', now())"));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, insert.SqlState);
            Assert.Contains("row-level security", insert.MessageText);
        }

        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await ExecuteAsync(connection, $"SELECT set_config('tokage.tenant_id', '{acmeId}', true)");
            Assert.Equal(0, await ExecuteAsync(connection, $"UPDATE users SET display_name = 'pwned' WHERE tenant_id = '{globexId}'"));
            Assert.Equal(0, await ExecuteAsync(connection, $"DELETE FROM users WHERE tenant_id = '{globexId}'"));
            await transaction.CommitAsync();
        }

        var users = await stack.GetAsync($"/v1/tenants/{globexId}/users");
        Assert.Equal("victim", (string)users["users"]![0]!["user_id"]!);
        Assert.Null(users["users"]![0]!["display_name"]);

        // No way around the policies from this role.
        await ExecuteAsync(connection, "SET row_security = off");
        var off = await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync<long>(connection, "SELECT count(*) FROM users"));
        Assert.Contains("row-level security", off.MessageText);
        await ExecuteAsync(connection, "RESET row_security");
        var disable = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, "ALTER TABLE users DISABLE ROW LEVEL SECURITY"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, disable.SqlState);
        Assert.Equal((false, false), (await ScalarAsync<bool>(connection, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"),
            await ScalarAsync<bool>(connection, "SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user")));
        Assert.Equal(0L, await ScalarAsync<long>(connection,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"));
    }

    [Fact]
    public async Task KeysAreFoundByHashOnlyThroughTheLookupFunction()
    {
        var tenant = await stack.CreateTenantAsync("rls-lookup");
        var hash = Tokage.ApiKeys.ApiKeyFormat.Hash((string)tenant["api_key"]!);

        await using var connection = new NpgsqlConnection(stack.AppRoleConnectionString);
        await connection.OpenAsync();
        await using (var direct = new NpgsqlCommand("SELECT count(*) FROM api_keys WHERE secret_hash = $1", connection))
        {
            direct.Parameters.AddWithValue(hash);
            Assert.Equal(0L, (long)(await direct.ExecuteScalarAsync())!);
        }

        await using var lookup = new NpgsqlCommand("SELECT tenant_id::text, scopes FROM tokage_resolve_api_key($1)", connection);
        lookup.Parameters.AddWithValue(hash);
        await using var reader = await lookup.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal((string)tenant["tenant_id"]!, reader.GetString(0));
        Assert.Equal(["ingest", "read"], reader.GetFieldValue<string[]>(1));
    }

    private static async Task<List<string>> TenantIdsAsync(NpgsqlConnection connection, string tenantId, string table)
    {
        await using var transaction = await connection.BeginTransactionAsync();
        await ExecuteAsync(connection, $"SELECT set_config('tokage.tenant_id', '{tenantId}', true)");
        await using var command = new NpgsqlCommand($"SELECT DISTINCT tenant_id::text FROM {table}", connection);
        var ids = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetString(0));
            }
        }

        await transaction.CommitAsync();
        return ids;
    }

    private static async Task<long> CountInScopeAsync(NpgsqlConnection connection, string tenantId, string table)
    {
        await using var transaction = await connection.BeginTransactionAsync();
        await ExecuteAsync(connection, $"SELECT set_config('tokage.tenant_id', '{tenantId}', true)");
        var count = await ScalarAsync<long>(connection, $"SELECT count(*) FROM {table}");
        await transaction.CommitAsync();
        return count;
    }

    private static async Task<int> ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
