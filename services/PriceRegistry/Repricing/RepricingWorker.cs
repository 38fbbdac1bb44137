using System.Globalization;
using Microsoft.Extensions.Options;
using Tokage.Analytics;
using Tokage.Analytics.Queries;
using Tokage.Pricing;
using Tokage.PriceRegistry.Prices;

namespace Tokage.PriceRegistry.Repricing;

/// <summary>
/// Runs repricings, one at a time per replica: pages through the selected stored events in key order, prices each again
/// from the price book (exactly as the processor would now: <see cref="EventPricing"/>) and writes an adjustment where
/// the cost differs from what the event was charged plus its earlier adjustments. Raw rows are never rewritten. A page
/// is idempotent (events this repricing already adjusted are skipped, a retried insert is dropped by its token), so a
/// crash or a ClickHouse outage only repeats the page; a second repricing of the same prices finds nothing to adjust.
/// </summary>
public sealed class RepricingWorker(
    RepricingStore jobs,
    RepricingReads reads,
    UsageEventWriter writer,
    PriceBook book,
    PriceFeed feed,
    IOptions<PriceRegistryOptions> options,
    TimeProvider time,
    ILogger<RepricingWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await jobs.ClaimNextAsync(settings.RepricingLease, stoppingToken) is not { } job)
                {
                    await Task.Delay(settings.RepricingPoll, time, stoppingToken);
                    continue;
                }

                try
                {
                    await RunAsync(job, settings, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Back in the queue with its cursor and the reason (GET /v1/repricings shows it): retried after the wait, here
                    // or on another replica. Without PostgreSQL either, its lease runs out and the same happens.
                    await jobs.RequeueAsync(job.Id, ex.Message, CancellationToken.None).ContinueWith(static _ => { }, TaskScheduler.Default);
                    throw;
                }

                failures = 0;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // ClickHouse or PostgreSQL away: the job keeps its cursor and is claimed again (by this replica or another).
                var wait = TimeSpan.FromSeconds(Math.Min(30, 1 << Math.Min(failures++, 5)));
                logger.LogWarning("Repricing interrupted ({Error}); again in {Wait:0} s.", ex.Message, wait.TotalSeconds);
                await Task.Delay(wait, time, stoppingToken);
            }
        }
    }

    private async Task RunAsync(RepricingJob job, PriceRegistryOptions settings, CancellationToken stoppingToken)
    {
        // The version that started it may have been written by another replica: price from a book that holds it.
        while (book.LatestId < job.VersionId)
        {
            await feed.CatchUpAsync(stoppingToken);
            if (book.LatestId < job.VersionId)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), time, stoppingToken);
            }
        }

        var selection = Selection(job);
        logger.LogInformation("Repricing {Id} ({Kind}, version {Version}) from {Cursor}.", job.Id, RepricingStore.Name(job.Kind), job.VersionId,
            job.Cursor?.ToString() ?? "the start");
        var cursor = job.Cursor;
        while (true)
        {
            var page = await reads.PageAsync(selection, cursor, settings.RepricingPageSize, stoppingToken);
            if (page.Count == 0)
            {
                break;
            }

            var prior = await reads.PriorAdjustmentsAsync(page.Select(e => e.Key).ToList(), (ulong)job.Id, stoppingToken);
            var adjustments = page.Select(e => Adjust(job, e, prior)).OfType<UsageAdjustmentRow>().ToList();
            if (adjustments.Count > 0)
            {
                // The token names the page: a retry of this very insert is dropped (and so is its rollup block).
                await writer.WriteAdjustmentsAsync(adjustments, $"repricing-{job.Id}-{cursor}", stoppingToken);
            }

            cursor = page[^1].Key;
            await jobs.AdvanceAsync(job.Id, cursor.Value, page.Count, adjustments.Count, adjustments.Sum(a => a.AdjustmentUsd), stoppingToken);
        }

        await jobs.FinishAsync(job.Id, null, stoppingToken);
        logger.LogInformation("Repricing {Id} done.", job.Id);
    }

    /// <summary>A correction reprices what the corrected version and its corrections priced; a new price, what was stored unpriced.</summary>
    private RepricingSelection Selection(RepricingJob job)
    {
        if (job.Kind == RepricingKind.Unpriced)
        {
            return new RepricingSelection(job.TenantId, job.Since, []);
        }

        var corrected = job.Corrects!.Value;
        var versions = book.Versions.Where(v => v.Id == corrected || v.Corrects == corrected)
            .Select(v => v.Id.ToString(CultureInfo.InvariantCulture)).ToList();
        return new RepricingSelection(job.TenantId, job.Since, versions);
    }

    private UsageAdjustmentRow? Adjust(RepricingJob job, EventToReprice e, Dictionary<(string, string), PriorAdjustments> prior)
    {
        var already = prior.GetValueOrDefault((e.Key.TenantId, e.Key.EventId));
        if (already.ByThisRepricing)
        {
            return null;
        }

        var m = e.Modalities;
        var tokens = new TokenCounts((long)e.InputTokens, (long)e.CacheReadTokens, (long)e.CacheWriteTokens, (long)e.CacheWrite1hTokens,
            (long)e.OutputTokens, (long)e.ReasoningTokens,
            new ModalityCounts((long)m.AudioInput, (long)m.ImageInput, (long)m.VideoInput, (long)m.AudioCacheRead, (long)m.ImageCacheRead,
                (long)m.AudioCacheWrite, (long)m.AudioOutput, (long)m.ImageOutput));
        var units = new UnitCounts((long)e.Images, e.AudioSeconds, (long)e.WebSearchQueries);
        var eventTime = new DateTimeOffset(DateTime.SpecifyKind(e.EventTime, DateTimeKind.Utc));
        if (book.Price(e.Key.TenantId, e.Provider, e.Model, eventTime, tokens, units, e.ServiceTier) is not { } priced)
        {
            return null;
        }

        var difference = priced.CostUsd - (e.CostUsd + already.AdjustedUsd);
        return difference == 0m
            ? null
            : new UsageAdjustmentRow
            {
                TenantId = e.Key.TenantId, EventId = e.Key.EventId, RepricingId = (ulong)job.Id, EventTime = e.EventTime,
                AdjustedAt = time.GetUtcNow().UtcDateTime, Provider = e.Provider, Model = e.Model, Application = e.Application,
                Project = e.Project, UserId = e.UserId, Team = e.Team, Environment = e.Environment, Customer = e.Customer,
                PriceVersionId = priced.Answer.Version.Id.ToString(CultureInfo.InvariantCulture), CostUsd = priced.CostUsd, AdjustmentUsd = difference,
            };
    }
}
