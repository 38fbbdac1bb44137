using Microsoft.Extensions.Options;
using Tokage.Analytics.Schema;
using Tokage.EventLog;
using Tokage.EventProcessor.Pricing;

namespace Tokage.EventProcessor.Processing;

/// <summary>
/// The consume loop: a batch (up to <see cref="ProcessorOptions.BatchSize"/> records, or what arrived within
/// <see cref="ProcessorOptions.BatchWait"/> of the first), processed, then committed — dead letters for the
/// quarantined records, an acknowledgement for the rest — only once every sink took it. A batch that fails (ClickHouse
/// or Redis down) is retried as it is, with backoff and jitter, never skipped: the records wait in the log.
/// Starts once the analytics schema is migrated and the first price snapshot is loaded.
/// </summary>
public sealed class EventProcessorWorker(
    IEventLog log,
    BatchProcessor processor,
    PriceFeed priceFeed,
    AnalyticsSchemaInitializer schema,
    IOptions<ProcessorOptions> options,
    ILogger<EventProcessorWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.WhenAll(priceFeed.Loaded, schema.Done).WaitAsync(stoppingToken);
        var settings = options.Value;
        await using var consumer = log.CreateConsumer(settings.ConsumerGroup, settings.ConsumerName);
        logger.LogInformation("Consuming the event log as {Consumer} of group {Group}.", settings.ConsumerName, settings.ConsumerGroup);
        while (!stoppingToken.IsCancellationRequested)
        {
            var batch = await ReadBatchAsync(consumer, settings, stoppingToken);
            if (batch.Count > 0)
            {
                await ProcessUntilCommittedAsync(consumer, batch, settings, stoppingToken);
            }
        }
    }

    private async Task<List<ConsumedRecord>> ReadBatchAsync(IEventLogConsumer consumer, ProcessorOptions settings, CancellationToken stoppingToken)
    {
        var batch = new List<ConsumedRecord>(settings.BatchSize);
        var failures = 0;
        DateTime? deadline = null;
        while (batch.Count < settings.BatchSize)
        {
            var wait = deadline is { } end ? end - DateTime.UtcNow : TimeSpan.FromSeconds(1);
            if (wait <= TimeSpan.Zero)
            {
                break;
            }

            try
            {
                var read = await consumer.ReadAsync(settings.BatchSize - batch.Count, wait, stoppingToken);
                failures = 0;
                if (read.Count == 0 && deadline is null)
                {
                    // Nothing yet: an idle loop returns to the caller now and then (so a stop is noticed).
                    return batch;
                }

                batch.AddRange(read);
                deadline ??= DateTime.UtcNow + settings.BatchWait;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                if (batch.Count > 0)
                {
                    break;
                }

                var pause = Backoff.Delay(failures++, settings.RetryInitial, settings.RetryMax);
                logger.LogWarning("Reading the event log failed ({Message}); again in {Wait:0.0} s.", ex.Message, pause.TotalSeconds);
                await Task.Delay(pause, stoppingToken);
            }
        }

        return batch;
    }

    private async Task ProcessUntilCommittedAsync(IEventLogConsumer consumer, List<ConsumedRecord> batch, ProcessorOptions settings, CancellationToken stoppingToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var result = await processor.ProcessAsync(batch, stoppingToken);
                if (settings.PauseBeforeFirstCommit)
                {
                    logger.LogCritical(ProcessorOptions.PausedBeforeCommitMessage);
                    await Task.Delay(Timeout.Infinite, stoppingToken);
                }

                foreach (var (record, reason) in result.Quarantined)
                {
                    await consumer.DeadLetterAsync(record, reason, stoppingToken);
                }

                var quarantined = result.Quarantined.Select(q => q.Record).ToHashSet();
                await consumer.AckAsync(batch.Where(r => !quarantined.Contains(r)).ToList(), stoppingToken);
                if (attempt > 0)
                {
                    logger.LogInformation("Batch of {Count} records committed after {Attempts} attempts.", batch.Count, attempt + 1);
                }

                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                var pause = Backoff.Delay(attempt, settings.RetryInitial, settings.RetryMax);
                // The stack once; a long outage then logs one line per retry.
                logger.LogWarning(attempt == 0 ? ex : null, "Batch of {Count} records not stored (attempt {Attempt}: {Message}); it stays in the log and is retried in {Wait:0.0} s.",
                    batch.Count, attempt + 1, ex.Message, pause.TotalSeconds);
                await Task.Delay(pause, stoppingToken);
            }
        }
    }
}
