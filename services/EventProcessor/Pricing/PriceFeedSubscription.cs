using Grpc.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Tokage.Contracts.V1;
using Tokage.EventProcessor.Processing;
using Tokage.Pricing;

namespace Tokage.EventProcessor.Pricing;

/// <summary>
/// Keeps the processor's <see cref="PriceBook"/> equal to the registry's: the whole snapshot, then every version
/// the registry adds, streamed; on a broken stream it reconnects (with backoff) and takes a fresh snapshot. The
/// processor prices nothing before the first snapshot (an empty book would store every event unpriced).
/// While the registry is unreachable it prices from the last book it had.
/// </summary>
public sealed class PriceFeedSubscription(
    PriceRegistryService.PriceRegistryServiceClient registry, PriceBook book, IOptions<ProcessorOptions> options, ILogger<PriceFeedSubscription> logger)
    : BackgroundService, IHealthCheck
{
    private readonly TaskCompletionSource loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the first snapshot is in the book.</summary>
    public Task Loaded => loaded.Task;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(loaded.Task.IsCompleted
            ? HealthCheckResult.Healthy($"{book.VersionCount} price versions, up to id {book.LatestId}.")
            : HealthCheckResult.Unhealthy("Waiting for the price registry's first snapshot."));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var snapshot = await registry.GetSnapshotAsync(new GetPriceSnapshotRequest(), cancellationToken: stoppingToken);
                book.Load(snapshot.Versions.Select(ToVersion));
                loaded.TrySetResult();
                logger.LogInformation("Price book loaded: {Count} versions, up to id {LatestId}.", book.VersionCount, book.LatestId);
                failures = 0;

                using var changes = registry.WatchChanges(new WatchPriceChangesRequest { AfterId = book.LatestId }, cancellationToken: stoppingToken);
                await foreach (var version in changes.ResponseStream.ReadAllAsync(stoppingToken))
                {
                    book.Add([ToVersion(version)]);
                    logger.LogInformation("Price version {Id} added: {Model} from {EffectiveFrom:O}{Tenant}.",
                        version.Id, version.ModelKey, version.EffectiveFrom.ToDateTimeOffset(), version.TenantId.Length > 0 ? " (tenant override)" : "");
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                var wait = Backoff.Delay(failures++, options.Value.RetryInitial, options.Value.RetryMax);
                logger.LogWarning("Price registry feed interrupted ({Message}); reconnecting in {Wait:0.0} s.", ex.Message, wait.TotalSeconds);
                await Task.Delay(wait, stoppingToken);
            }
        }
    }

    internal static PriceVersion ToVersion(PriceVersionMessage m) => new(
        m.Id, m.ModelKey, m.Provider, m.EffectiveFrom.ToDateTimeOffset(), new Dictionary<string, string>(m.Prices, StringComparer.Ordinal), m.Source, m.TenantId);
}
