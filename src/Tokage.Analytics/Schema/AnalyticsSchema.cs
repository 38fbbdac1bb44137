using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tokage.Analytics.Schema;

/// <summary>
/// Runs the migrations at start-up in the service that owns the schema, retrying with backoff while
/// ClickHouse is unreachable; <see cref="Ready"/> completes once the schema is current, and the health check
/// stays unhealthy until then.
/// </summary>
public sealed class AnalyticsSchemaInitializer(AnalyticsMigrator migrator, ILogger<AnalyticsSchemaInitializer> logger) : BackgroundService, IHealthCheck
{
    private readonly TaskCompletionSource ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? lastError;

    /// <summary>Completes when the usage store has the latest schema; writers await it before their first write.</summary>
    public Task Ready => ready.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var report = await migrator.MigrateAsync(stoppingToken);
                logger.LogInformation("Analytics schema at version {Version} (applied now: {Applied}).",
                    report.Version, report.Applied.Count == 0 ? "none" : string.Join(",", report.Applied));
                ready.TrySetResult();
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (InvalidOperationException ex) when (ex.Message.Contains("was changed after it was applied", StringComparison.Ordinal))
            {
                // Not transient: retrying cannot fix an edited migration.
                lastError = ex.Message;
                logger.LogCritical(ex, "Analytics migrations refused.");
                ready.TrySetException(ex);
                return;
            }
            catch (Exception ex)
            {
                lastError = ex.Message;
                logger.LogWarning("Analytics migrations failed ({Error}); retrying in {Delay}.", ex.Message, delay);
                await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 250)), stoppingToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(ready.Task.IsCompletedSuccessfully
            ? HealthCheckResult.Healthy($"Analytics schema at version {Migration.LatestVersion}.")
            : HealthCheckResult.Unhealthy($"Analytics schema not yet migrated to version {Migration.LatestVersion}" + (lastError is null ? "." : $": {lastError}")));
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
