using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Tokage.Audit;

namespace Tokage.AuditLog.Tests;

/// <summary>What makes the log trustworthy: nothing lost or doubled across crashes, tampering found at the exact record, no path to change a record.</summary>
[Collection(AuditCollection.Name)]
public sealed class AuditIntegrityTests(AuditFixture fixture)
{
    [Fact]
    public async Task ACrashBetweenChangeAndDrainLosesNothingAndDoublesNothing()
    {
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("audit-crash"))["tenant_id"]!;
        await fixture.DrainedAsync();
        await fixture.AuditLog.KillAsync();

        // Changes keep committing while audit-log is down: one transaction that stays open (its row comes first but
        // commits last), and 2,000 outbox rows from concurrent writers.
        await using var open = await fixture.AppRole.OpenConnectionAsync();
        await using var openTransaction = await open.BeginTransactionAsync();
        await AuditOutbox.AppendAsync(open, openTransaction, Change(tenant, "late"), AuditActor.OfService("test"), CancellationToken.None);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async writer =>
        {
            await using var connection = await fixture.AppRole.OpenConnectionAsync();
            for (var i = 0; i < 500; i++)
            {
                await using var transaction = await connection.BeginTransactionAsync();
                await AuditOutbox.AppendAsync(connection, transaction, Change(tenant, $"{writer}-{i}"), AuditActor.OfService("test"), CancellationToken.None);
                await transaction.CommitAsync();
            }
        }));

        // Two replicas start. The open transaction's row may still commit before the rows after it, so the drain holds
        // everything after it back (nothing skipped): only the tenant's first two records are chains yet.
        var small = new Dictionary<string, string> { ["Tokage__Audit__DrainBatchSize"] = "50" };
        var first = await fixture.StartAuditLogAsync(small);
        var second = await fixture.StartAuditLogAsync(small);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(2, await CountAsync($"tenant_id = '{tenant}'"));

        // It commits; the replicas drain in small batches, and one is killed (-9) mid-way and started again.
        await openTransaction.CommitAsync();
        await ControlPlaneStack.EventuallyAsync(async () => await CountAsync($"tenant_id = '{tenant}'") > 200, TimeSpan.FromSeconds(60), "draining under way");
        await first.KillAsync();
        fixture.ReplaceAuditLog(await fixture.StartAuditLogAsync(small));
        await ControlPlaneStack.EventuallyAsync(async () => await CountAsync($"tenant_id = '{tenant}'") == 2_003, TimeSpan.FromSeconds(120), "every committed row drained");

        await fixture.DrainedAsync();
        Assert.Equal(await CountAsync("true", "audit_outbox"), await CountAsync("true"));
        Assert.Equal(await CountAsync("true"), await ScalarAsync<long>("SELECT count(DISTINCT outbox_id) FROM audit_records"));
        var subjects = (await fixture.RecordsAsync(tenant, "&kind=test")).Select(r => (string)r["subject"]!).ToList();
        Assert.Equal(2_001, subjects.Count);
        Assert.Equal(subjects.Count, subjects.Distinct().Count());
        var verified = await AuditFixture.GetAsync(fixture.Operator, "/v1/audit/verify");
        Assert.True((bool)verified["valid"]!, verified.ToJsonString());
        await second.DisposeAsync();
    }

    [Fact]
    public async Task EditingDeletingOrReorderingARecordIsFoundAtThatRecord()
    {
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("audit-tamper"))["tenant_id"]!;
        for (var i = 0; i < 4; i++)
        {
            await fixture.Stack.PostAsync($"/v1/tenants/{tenant}/keys", new { name = $"k{i}" });
        }

        var records = await fixture.RecordsAsync(tenant);
        Assert.Equal(6, records.Count);
        var third = (long)records[2]["id"]!;
        await AssertValidAsync(tenant);

        // Edit: the record's diff changed in place.
        await TamperAsync($"UPDATE audit_records SET after = jsonb_set(after, '{{name}}', '\"k9\"') WHERE id = {third}");
        await AssertBrokenAsync(tenant, 3, "edited");
        await TamperAsync($"UPDATE audit_records SET after = jsonb_set(after, '{{name}}', '\"k0\"') WHERE id = {third}");
        await AssertValidAsync(tenant);

        // Edit the actor only: found just the same.
        await TamperAsync($"UPDATE audit_records SET actor_id = 'someone-else' WHERE id = {third}");
        await AssertBrokenAsync(tenant, 3, "edited");
        await TamperAsync($"UPDATE audit_records SET actor_id = 'admin-token' WHERE id = {third}");

        // Delete: the chain jumps over it.
        await TamperAsync($"""
            CREATE TEMP TABLE saved AS SELECT * FROM audit_records WHERE id = {third};
            DELETE FROM audit_records WHERE id = {third};
            """, then: async connection =>
        {
            await AssertBrokenAsync(tenant, 3, "missing");
            await Execute(connection, "INSERT INTO audit_records OVERRIDING SYSTEM VALUE SELECT * FROM saved");
        });
        await AssertValidAsync(tenant);

        // Reorder: records 3 and 4 swap places.
        await TamperAsync($"""
            UPDATE audit_records SET seq = -seq WHERE tenant_id = '{tenant}' AND seq IN (3, 4);
            UPDATE audit_records SET seq = CASE seq WHEN -3 THEN 4 ELSE 3 END WHERE tenant_id = '{tenant}' AND seq IN (-3, -4);
            """);
        await AssertBrokenAsync(tenant, 3, "does not link to record 2");
        await TamperAsync($"""
            UPDATE audit_records SET seq = -seq WHERE tenant_id = '{tenant}' AND seq IN (3, 4);
            UPDATE audit_records SET seq = CASE seq WHEN -3 THEN 4 ELSE 3 END WHERE tenant_id = '{tenant}' AND seq IN (-3, -4);
            """);
        await AssertValidAsync(tenant);

        // Cut off the end: the chain itself still links, the global chain's anchor does not.
        var last = (long)records[^1]["id"]!;
        await TamperAsync($"""
            CREATE TEMP TABLE saved_last AS SELECT * FROM audit_records WHERE id = {last};
            DELETE FROM audit_records WHERE id = {last};
            """, then: async connection =>
        {
            var verified = await AuditFixture.GetAsync(fixture.Operator, $"/v1/audit/verify?tenant={tenant}");
            Assert.False((bool)verified["valid"]!);
            Assert.Contains("missing", (string)verified["first_break"]!["reason"]!, StringComparison.Ordinal);
            await Execute(connection, "INSERT INTO audit_records OVERRIDING SYSTEM VALUE SELECT * FROM saved_last");
        });
        await AssertValidAsync(tenant);
    }

    [Fact]
    public async Task NoRoleAndNoRouteCanUpdateOrDeleteARecord()
    {
        // The table grants, enumerated: audit-log's role reads the outbox and inserts and reads the chains; the changing
        // services' roles only insert into the outbox; nobody may UPDATE, DELETE or TRUNCATE an audit table.
        var grants = new List<string>();
        await using (var connection = await fixture.Owner.OpenConnectionAsync())
        await using (var command = new NpgsqlCommand("""
            SELECT grantee || ' ' || table_name || ' ' || privilege_type FROM information_schema.role_table_grants
            WHERE table_name LIKE 'audit%' AND grantee IN ('tokage_app', 'tokage_prices', 'tokage_audit') ORDER BY 1
            """, connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                grants.Add(reader.GetString(0));
            }
        }

        Assert.Equal(
        [
            "tokage_app audit_outbox INSERT",
            "tokage_audit audit_heads INSERT", "tokage_audit audit_heads SELECT",
            "tokage_audit audit_outbox SELECT",
            "tokage_audit audit_records INSERT", "tokage_audit audit_records SELECT",
            "tokage_audit audit_segments INSERT", "tokage_audit audit_segments SELECT",
            "tokage_prices audit_outbox INSERT",
        ], grants);

        // What the grants mean when tried: the audit role is refused an update; even the owner is refused by the trigger.
        await using (var audit = new NpgsqlConnection(DatabaseMigratorProcess.ConnectionString(fixture.Stack.Postgres, ControlPlaneStack.Database, DatabaseMigratorProcess.AuditRole)))
        {
            await audit.OpenAsync();
            var refused = await Assert.ThrowsAsync<PostgresException>(() => Execute(audit, "UPDATE audit_records SET kind = 'x'"));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
            refused = await Assert.ThrowsAsync<PostgresException>(() => Execute(audit, "DELETE FROM audit_outbox"));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
        }

        await using (var owner = await fixture.Owner.OpenConnectionAsync())
        {
            foreach (var statement in new[] { "UPDATE audit_records SET kind = 'x'", "DELETE FROM audit_heads", "TRUNCATE audit_records", "DELETE FROM audit_outbox" })
            {
                var refused = await Assert.ThrowsAsync<PostgresException>(() => Execute(owner, statement));
                Assert.Contains("write-once", refused.MessageText, StringComparison.Ordinal);
            }
        }

        // The API surface: every route of audit-log reads (GET); anything else is refused.
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.Services.AddSingleton(NpgsqlDataSource.Create("Host=unused"));
        await using var app = builder.Build();
        Tokage.AuditLog.Apis.AuditApi.MapAuditApi(app);
        var routes = ((Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints)
            .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>().ToList();
        Assert.Equal(["/v1/audit/", "/v1/audit/verify"], routes.Select(r => r.RoutePattern.RawText!).Order(StringComparer.Ordinal));
        Assert.All(routes, route => Assert.Equal(["GET"], route.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()!.HttpMethods));
        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Put, HttpMethod.Patch, HttpMethod.Delete })
        {
            using var response = await fixture.Operator.SendAsync(new HttpRequestMessage(method, "/v1/audit/"));
            Assert.Contains(response.StatusCode, new[] { HttpStatusCode.MethodNotAllowed, HttpStatusCode.NotFound });
        }
    }

    private static AuditChange Change(string tenant, string subject) =>
        AuditChange.Of<object>(Guid.Parse(tenant), "test.change", subject, null, new { n = subject });

    private async Task<long> CountAsync(string where, string table = "audit_records") =>
        await ScalarAsync<long>($"SELECT count(*) FROM {table} WHERE {where}");

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = await fixture.Owner.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>As someone holding the database's owner keys: triggers off for this session (superuser), then <paramref name="sql"/>.</summary>
    private async Task TamperAsync(string sql, Func<NpgsqlConnection, Task>? then = null)
    {
        await using var connection = await fixture.Owner.OpenConnectionAsync();
        await Execute(connection, "SET session_replication_role = replica");
        await Execute(connection, sql);
        if (then is not null)
        {
            await then(connection);
        }
    }

    private async Task AssertBrokenAsync(string tenant, long seq, string reason)
    {
        var verified = await AuditFixture.GetAsync(fixture.Operator, $"/v1/audit/verify?tenant={tenant}");
        Assert.False((bool)verified["valid"]!, verified.ToJsonString());
        var broken = verified["first_break"]!;
        Assert.Equal(tenant, (string)broken["chain"]!);
        Assert.Equal(seq, (long)broken["seq"]!);
        Assert.Contains(reason, (string)broken["reason"]!, StringComparison.Ordinal);
    }

    private async Task AssertValidAsync(string tenant)
    {
        var verified = await AuditFixture.GetAsync(fixture.Operator, $"/v1/audit/verify?tenant={tenant}");
        Assert.True((bool)verified["valid"]!, verified.ToJsonString());
    }

    private static async Task Execute(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
