using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;

namespace Tokage.ControlPlane.Data;

/// <summary>
/// At start, as the owner (the connection string's user): creates or updates the application role (login,
/// not superuser, no BYPASSRLS, owns nothing), applies the EF Core migrations (tables, RLS policies, the key
/// lookup function), and grants the role what the services need (retried while PostgreSQL is unreachable;
/// unhealthy until done).
/// </summary>
internal sealed partial class DatabaseMigrator(IConfiguration configuration, ILogger<DatabaseMigrator> logger) : StartupTask(logger)
{
    protected override string Description => "Control plane database migrations";

    protected override Task RunAsync(CancellationToken cancellationToken) => MigrateAsync(cancellationToken);

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var owner = configuration.GetConnectionString("tokage")
            ?? throw new InvalidOperationException("No connection string 'tokage'.");
        var role = DatabaseRoleOptions.From(configuration);
        if (!RoleName().IsMatch(role.AppRole))
        {
            throw new InvalidOperationException($"{DatabaseRoleOptions.SectionName}:AppRole '{role.AppRole}' must be a lower-case SQL identifier.");
        }

        // Validates the password is set before anything changes.
        _ = role.AppConnectionString(owner);
        await using (var connection = new NpgsqlConnection(owner))
        {
            await connection.OpenAsync(cancellationToken);
            await ExecuteAsync(connection, $"""
                DO $$ BEGIN
                  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role.AppRole}') THEN
                    CREATE ROLE {role.AppRole} LOGIN;
                  END IF;
                END $$;
                ALTER ROLE {role.AppRole} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD {Literal(role.AppRolePassword!)};
                """, cancellationToken);
        }

        var options = new DbContextOptionsBuilder<ControlPlaneDbContext>().UseNpgsql(owner).UseSnakeCaseNamingConvention().Options;
        await using (var db = new ControlPlaneDbContext(options))
        {
            // EF's own history table, made first (its own idempotent script): on a new database the migrator would
            // otherwise read a table that does not exist yet, and the server logs that as an ERROR.
            await db.Database.ExecuteSqlRawAsync(db.GetService<IHistoryRepository>().GetCreateIfNotExistsScript(), cancellationToken);
            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
            await db.Database.MigrateAsync(cancellationToken);
            logger.LogInformation("Control plane database migrated ({Pending}).", pending.Count == 0 ? "nothing pending" : string.Join(", ", pending));
        }

        await using (var connection = new NpgsqlConnection(owner))
        {
            await connection.OpenAsync(cancellationToken);
            var tenantOwned = string.Join(", ", ControlPlaneDbContext.TenantOwnedTables);
            await ExecuteAsync(connection, $"""
                GRANT USAGE ON SCHEMA public TO {role.AppRole};
                GRANT SELECT, INSERT, UPDATE ON tenants TO {role.AppRole};
                GRANT SELECT, INSERT, UPDATE, DELETE ON {tenantOwned} TO {role.AppRole};
                GRANT EXECUTE ON FUNCTION tokage_resolve_api_key(bytea) TO {role.AppRole};
                """, cancellationToken);
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex RoleName();
}
