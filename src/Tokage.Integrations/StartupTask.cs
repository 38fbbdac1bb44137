using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Work a service must finish before it is ready (schema migrations): run at start, retried with backoff and
/// jitter while its engine is unreachable, and a health check that is unhealthy, with the last error, until it
/// is done. <see cref="Done"/> lets the service's own work wait for it.
/// </summary>
public abstract class StartupTask(ILogger logger) : BackgroundService, IHealthCheck
{
    private readonly TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? lastError;

    public Task Done => done.Task;

    /// <summary>Why the last attempt failed, if it did.</summary>
    protected string? LastError => lastError;

    /// <summary>What the task does, for log lines and the health check ("Analytics schema migrations").</summary>
    protected abstract string Description { get; }

    protected abstract Task RunAsync(CancellationToken cancellationToken);

    /// <summary>A failure that retrying cannot fix (an edited migration): the task stops and stays unhealthy.</summary>
    protected virtual bool IsPermanent(Exception exception) => false;

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunAsync(stoppingToken);
                done.TrySetResult();
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (IsPermanent(ex))
            {
                lastError = ex.Message;
                logger.LogCritical(ex, "{Task} refused.", Description);
                done.TrySetException(ex);
                return;
            }
            catch (Exception ex)
            {
                lastError = ex.Message;
                logger.LogWarning("{Task} failed ({Error}); retrying in {Delay}.", Description, ex.Message, delay);
                await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 250)), stoppingToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(done.Task.IsCompletedSuccessfully
            ? HealthCheckResult.Healthy($"{Description}: done.")
            : HealthCheckResult.Unhealthy($"{Description}: not done yet" + (lastError is null ? "." : $" ({lastError}).")));
}
