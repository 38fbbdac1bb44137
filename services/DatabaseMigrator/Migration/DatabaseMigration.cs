using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.ControlPlane.Data;

namespace Tokage.DatabaseMigrator.Migration;

/// <summary>
/// As the owner (the connection string's user): creates or updates each service role (login, not superuser, no
/// BYPASSRLS, owns nothing), applies the EF Core migrations (tables, RLS policies, the key lookup function, the
/// append-only price versions, the write-once audit tables), and grants each role what its services need and nothing more. Retried while
/// PostgreSQL is unreachable.
/// </summary>
public sealed class DatabaseMigration(IConfiguration configuration, IOptions<DatabaseRoles> roles, ILogger<DatabaseMigration> logger) : StartupTask(logger)
{
    protected override string Description => "Database migrations";

    protected override Task RunAsync(CancellationToken cancellationToken) => MigrateAsync(cancellationToken);

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var owner = configuration.GetConnectionString("tokage")
            ?? throw new InvalidOperationException("No connection string 'tokage' (the database owner's).");
        var (app, prices, audit) = (roles.Value.AppRole, roles.Value.PricesRole, roles.Value.AuditRole);

        await using (var connection = new NpgsqlConnection(owner))
        {
            await connection.OpenAsync(cancellationToken);
            foreach (var (role, password) in roles.Value.All)
            {
                await ExecuteAsync(connection, $"""
                    DO $$ BEGIN
                      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                        CREATE ROLE {role} LOGIN;
                      END IF;
                    END $$;
                    ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD {Literal(password)};
                    """, cancellationToken);
            }
        }

        var options = new DbContextOptionsBuilder<ControlPlaneDbContext>().UseNpgsql(owner).UseSnakeCaseNamingConvention().Options;
        await using (var db = new ControlPlaneDbContext(options))
        {
            // EF's own history table, made first (its own idempotent script): on a new database the migrator would
            // otherwise read a table that does not exist yet, and the server logs that as an ERROR.
            await db.Database.ExecuteSqlRawAsync(db.GetService<IHistoryRepository>().GetCreateIfNotExistsScript(), cancellationToken);
            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
            await db.Database.MigrateAsync(cancellationToken);
            logger.LogInformation("Database migrated ({Pending}).", pending.Count == 0 ? "nothing pending" : string.Join(", ", pending));
        }

        await using (var connection = new NpgsqlConnection(owner))
        {
            await connection.OpenAsync(cancellationToken);
            var tenantOwned = string.Join(", ", ControlPlaneDbContext.TenantOwnedTables);
            // Every role reads the migration history: a service is ready only once its build's newest migration is in.
            await ExecuteAsync(connection, $"""
                GRANT USAGE ON SCHEMA public TO {app}, {prices}, {audit};
                GRANT SELECT ON "__EFMigrationsHistory" TO {app}, {prices}, {audit};
                GRANT SELECT, INSERT, UPDATE ON tenants TO {app};
                GRANT SELECT, INSERT, UPDATE, DELETE ON members TO {app};
                GRANT SELECT, INSERT, UPDATE, DELETE ON {tenantOwned} TO {app};
                GRANT EXECUTE ON FUNCTION tokage_resolve_api_key(bytea) TO {app};
                GRANT SELECT, INSERT ON price_versions TO {prices};
                GRANT SELECT, INSERT, UPDATE ON price_repricings TO {prices};
                GRANT INSERT ON audit_outbox TO {app}, {prices};
                GRANT SELECT ON audit_outbox TO {audit};
                GRANT SELECT, INSERT ON audit_records, audit_heads, audit_segments TO {audit};
                """, cancellationToken);
        }

        logger.LogInformation("Roles {App}, {Prices} and {Audit} granted what their services need.", app, prices, audit);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
}
