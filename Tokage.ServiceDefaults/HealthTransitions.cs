using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Logs a service's readiness when it changes, instead of every failed probe: while a service starts, its
/// orchestrator probes /health every few seconds and each "not ready yet" would otherwise be an error line
/// (<c>DefaultHealthCheckService</c> logs every unhealthy result as one). Waiting to become ready is information;
/// losing readiness once had is a warning naming the failing checks; coming back is information again.
/// </summary>
internal sealed class HealthTransitions(ILogger<HealthTransitions> logger) : IHealthCheckPublisher
{
    private bool? healthy;
    private bool everHealthy;

    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        var now = report.Status == HealthStatus.Healthy;
        if (now == healthy)
        {
            return Task.CompletedTask;
        }

        healthy = now;
        var failing = string.Join("; ", report.Entries
            .Where(e => e.Value.Status != HealthStatus.Healthy)
            .Select(e => $"{e.Key}: {e.Value.Description ?? e.Value.Exception?.Message ?? e.Value.Status.ToString()}"));
        if (now)
        {
            logger.LogInformation(everHealthy ? "Ready again." : "Ready.");
            everHealthy = true;
        }
        else if (everHealthy)
        {
            logger.LogWarning("No longer ready: {Failing}", failing);
        }
        else
        {
            logger.LogInformation("Starting; not ready yet: {Failing}", failing);
        }

        return Task.CompletedTask;
    }
}
