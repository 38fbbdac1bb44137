using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Tokage.Analytics.Schema;
using Tokage.EventLog;
using Tokage.EventProcessor.Pricing;

namespace Tokage.EventProcessor.Processing;

/// <summary>
/// The consume loop, in two stages so ClickHouse is kept busy: one reads a batch (up to
/// <see cref="ProcessorOptions.BatchSize"/> records, or what arrived within <see cref="ProcessorOptions.BatchWait"/>
/// of the first) and prepares it (claims, prices, archive) while the other writes the previous batch to ClickHouse
/// and commits it — dead letters for the quarantined records, an acknowledgement for the rest — only once every sink
/// took it. A step that fails (ClickHouse or Redis down) is retried as it is, with backoff and jitter, never skipped:
/// the records wait in the log, and the reading side keeps polling meanwhile (partitions paused) so that a Kafka
/// group never evicts the processor for an outage longer than <c>max.poll.interval.ms</c>. Starts once the analytics schema is migrated and the first price snapshot is loaded.
/// </summary>
public sealed class EventProcessorWorker(
    IEventLog log,
    BatchProcessor processor,
    PriceFeedSubscription priceFeed,
    AnalyticsSchemaInitializer schema,
    IOptions<ProcessorOptions> options,
    ILogger<EventProcessorWorker> logger) : BackgroundService
{
    private static readonly TimeSpan KeepAliveStep = TimeSpan.FromSeconds(1);

    private static readonly System.Diagnostics.Metrics.Meter Meter = new("Tokage.EventProcessor.Log");
    private static readonly System.Diagnostics.Metrics.Counter<long> DeadLettered =
        Meter.CreateCounter<long>("tokage.processor.dead_lettered", description: "Log records moved to the dead-letter stream or topic, by reason.");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.WhenAll(priceFeed.Loaded, schema.Done).WaitAsync(stoppingToken);
        var settings = options.Value;
        await using var consumer = log.CreateConsumer(settings.ConsumerGroup, settings.ConsumerName);
        logger.LogInformation("Consuming the event log as {Consumer} of group {Group}.", settings.ConsumerName, settings.ConsumerGroup);

        // One batch prepared ahead while one is written: at most three batches are read and not yet committed.
        var prepared = Channel.CreateBounded<PreparedBatch>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        var writing = Task.Run(() => WriteAndCommitAsync(consumer, prepared.Reader, settings, stoppingToken), stoppingToken);
        try
        {
            while (!stoppingToken.IsCancellationRequested && !writing.IsCompleted)
            {
                var batch = await ReadBatchAsync(consumer, settings, stoppingToken);
                if (batch.Count > 0)
                {
                    // While a step waits (a retry, a full pipeline) the consumer keeps its place in the group.
                    var ready = await RetryAsync(() => processor.PrepareAsync(batch, stoppingToken), "prepared (claims, prices, archive)", batch.Count, settings,
                        pause => KeepAliveAsync(consumer, pause, stoppingToken), stoppingToken);
                    while (!prepared.Writer.TryWrite(ready) && !writing.IsCompleted)
                    {
                        await consumer.KeepAliveAsync(KeepAliveStep, stoppingToken);
                    }
                }
            }
        }
        finally
        {
            prepared.Writer.TryComplete();
            await writing.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task WriteAndCommitAsync(IEventLogConsumer consumer, ChannelReader<PreparedBatch> batches, ProcessorOptions settings, CancellationToken stoppingToken)
    {
        await foreach (var batch in batches.ReadAllAsync(stoppingToken))
        {
            await RetryAsync(async () =>
            {
                await processor.WriteAsync(batch, stoppingToken);
                return true;
            }, "stored in ClickHouse", batch.Records.Count, settings, pause => Task.Delay(pause, stoppingToken), stoppingToken);

            if (settings.PauseBeforeFirstCommit)
            {
                logger.LogCritical(ProcessorOptions.PausedBeforeCommitMessage);
                await Task.Delay(Timeout.Infinite, stoppingToken);
            }

            await RetryAsync(async () =>
            {
                foreach (var (record, reason) in batch.Result.Quarantined)
                {
                    await consumer.DeadLetterAsync(record, reason, stoppingToken);
                }

                foreach (var reason in batch.Result.Quarantined.GroupBy(q => q.Reason))
                {
                    DeadLettered.Add(reason.Count(), new KeyValuePair<string, object?>("reason", reason.Key));
                }

                var quarantined = batch.Result.Quarantined.Select(q => q.Record).ToHashSet();
                await consumer.AckAsync(batch.Records.Where(r => !quarantined.Contains(r)).ToList(), stoppingToken);
                return true;
            }, "committed", batch.Records.Count, settings, pause => Task.Delay(pause, stoppingToken), stoppingToken);
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

    /// <summary>Keeps the consumer's place for <paramref name="duration"/>, a second at a time.</summary>
    private static async Task KeepAliveAsync(IEventLogConsumer consumer, TimeSpan duration, CancellationToken stoppingToken)
    {
        var until = DateTime.UtcNow + duration;
        for (var left = duration; left > TimeSpan.Zero; left = until - DateTime.UtcNow)
        {
            await consumer.KeepAliveAsync(left < KeepAliveStep ? left : KeepAliveStep, stoppingToken);
        }
    }

    /// <summary>
    /// Runs a step until it succeeds (or the service stops), with backoff and jitter between attempts, spent in
    /// <paramref name="wait"/> (the reading side keeps the consumer alive there; the writing side just waits).
    /// </summary>
    private async Task<T> RetryAsync<T>(Func<Task<T>> step, string what, int records, ProcessorOptions settings, Func<TimeSpan, Task> wait, CancellationToken stoppingToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var result = await step();
                if (attempt > 0)
                {
                    logger.LogInformation("Batch of {Count} records {What} after {Attempts} attempts.", records, what, attempt + 1);
                }

                return result;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                var pause = Backoff.Delay(attempt, settings.RetryInitial, settings.RetryMax);
                // The stack once; a long outage then logs one line per retry.
                logger.LogWarning(attempt == 0 ? ex : null, "Batch of {Count} records not {What} (attempt {Attempt}: {Message}); it stays in the log and is retried in {Wait:0.0} s.",
                    records, what, attempt + 1, ex.Message, pause.TotalSeconds);
                await wait(pause);
            }
        }
    }
}
