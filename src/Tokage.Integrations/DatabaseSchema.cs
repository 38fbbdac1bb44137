using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Which PostgreSQL schema this build needs: the newest EF migration of <c>src/Tokage.ControlPlane.Data</c> (a test keeps
/// the two equal). A service is ready only once the database migrator has applied it, so during an upgrade no pod of
/// the new version serves against the old schema.
/// </summary>
public static class DatabaseSchema
{
    public const string LatestMigration = "20261204180000_BillingOutputs";

    /// <summary>A readiness check that the database has <see cref="LatestMigration"/> (each role may read the history, whose columns the snake-case convention names).</summary>
    public static IHealthChecksBuilder AddDatabaseSchemaCheck(this IHealthChecksBuilder health) =>
        health.AddCheck<SchemaIsCurrent>("database-schema", tags: ["ready"]);

    private sealed class SchemaIsCurrent(NpgsqlDataSource database) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var command = database.CreateCommand("SELECT EXISTS (SELECT 1 FROM \"__EFMigrationsHistory\" WHERE migration_id = $1)");
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = LatestMigration });
                return (bool)(await command.ExecuteScalarAsync(cancellationToken))!
                    ? HealthCheckResult.Healthy()
                    : HealthCheckResult.Unhealthy($"The database lacks migration {LatestMigration}: the database migrator has not run for this version.");
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return HealthCheckResult.Unhealthy($"PostgreSQL did not answer, or the database migrator has not run yet ({ex.Message}).", ex);
            }
        }
    }
}
