using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Tokage.ControlPlane.Data;

namespace Tokage.ControlPlane.Tests;

/// <summary>The database migrator: the one process with the owner's credentials; it runs, exits, and can run again.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class DatabaseMigratorTests(ControlPlaneStack stack)
{
    [Fact]
    public async Task ItRunsAgainWithNothingPendingAndItsRolesOwnNothingAndCannotBypassRowLevelSecurity()
    {
        var output = await DatabaseMigratorProcess.RunAsync(stack.Postgres, ControlPlaneStack.Database);
        Assert.Contains("nothing pending", output);

        await using var owner = new NpgsqlConnection(stack.Postgres.ConnectionString(ControlPlaneStack.Database));
        await owner.OpenAsync();
        await using var roles = new NpgsqlCommand("""
            SELECT r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
                   (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid)
            FROM pg_roles r WHERE r.rolname = ANY($1) ORDER BY r.rolname
            """, owner);
        roles.Parameters.AddWithValue(new[] { DatabaseMigratorProcess.AppRole, DatabaseMigratorProcess.PricesRole, DatabaseMigratorProcess.AuditRole });
        var found = new List<string>();
        await using (var reader = await roles.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                found.Add(reader.GetString(0));
                Assert.Equal((false, false, false, false, 0L), (reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4), reader.GetInt64(5)));
            }
        }

        Assert.Equal(["tokage_app", "tokage_audit", "tokage_prices"], found);

        // The audit log's role has a login and nothing else yet.
        await using var audit = new NpgsqlConnection(DatabaseMigratorProcess.ConnectionString(stack.Postgres, ControlPlaneStack.Database, DatabaseMigratorProcess.AuditRole));
        await audit.OpenAsync();
        await using var tenants = new NpgsqlCommand("SELECT count(*) FROM tenants", audit);
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, (await Assert.ThrowsAsync<PostgresException>(() => tenants.ExecuteScalarAsync())).SqlState);
    }

    [Fact]
    public async Task WithoutARolesPasswordItChangesNothingAndExitsWithAReason()
    {
        var environment = DatabaseMigratorProcess.Environment(stack.Postgres, ControlPlaneStack.Database);
        environment.Remove("Tokage__Database__PricesRolePassword");

        var (exitCode, output) = await DatabaseMigratorProcess.RunForExitCodeAsync(environment);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("PricesRolePassword", output);
    }

    /// <summary>What the services wait for (their readiness) is the newest migration the migrator applies.</summary>
    [Fact]
    public void TheServicesWaitForTheNewestMigration()
    {
        using var db = new ControlPlaneDbContext(new DbContextOptionsBuilder<ControlPlaneDbContext>().UseNpgsql("Host=unused").UseSnakeCaseNamingConvention().Options);

        Assert.Equal(DatabaseSchema.LatestMigration, db.Database.GetMigrations().Last());
    }
}
