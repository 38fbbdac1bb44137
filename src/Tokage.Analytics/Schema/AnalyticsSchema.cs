using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tokage.Analytics.Schema;

/// <summary>
/// Runs the migrations at start-up in the service that owns the schema; the health check stays unhealthy until
/// the schema is current, and writers await <see cref="StartupTask.Done"/> before their first write.
/// </summary>
public sealed class AnalyticsSchemaInitializer(AnalyticsMigrator migrator, ILogger<AnalyticsSchemaInitializer> logger) : StartupTask(logger)
{
    protected override string Description => $"Analytics schema migrations (to version {Migration.LatestVersion})";

    protected override async Task RunAsync(CancellationToken cancellationToken)
    {
        var report = await migrator.MigrateAsync(cancellationToken);
        logger.LogInformation("Analytics schema at version {Version} (applied now: {Applied}).",
            report.Version, report.Applied.Count == 0 ? "none" : string.Join(",", report.Applied));
    }

    // Retrying cannot fix an edited migration.
    protected override bool IsPermanent(Exception exception) =>
        exception is InvalidOperationException && exception.Message.Contains("was changed after it was applied", StringComparison.Ordinal);
}

/// <summary>For services that read the store but do not own its schema: ready once the owner has migrated it.</summary>
internal sealed class AnalyticsSchemaVersionCheck(AnalyticsMigrator migrator) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var version = await migrator.AppliedVersionAsync(cancellationToken);
            return version >= Migration.LatestVersion
                ? HealthCheckResult.Healthy($"Analytics schema at version {version}.")
                : HealthCheckResult.Unhealthy($"Analytics schema at version {version}; this service needs {Migration.LatestVersion} (the event processor applies migrations).");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("Could not read the analytics schema version.", ex);
        }
    }
}
