using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Tokage.EventLog;

/// <summary>
/// The event log on Redis Streams: one stream, pipelined XADD (each answered only after the AOF is fsynced,
/// which the first append verifies the server does), consumer groups with XACK, XAUTOCLAIM of entries a dead
/// consumer left behind, and a dead-letter stream.
/// </summary>
public sealed class RedisStreamsEventLog(IConnectionMultiplexer redis, EventLogOptions options, ILogger<RedisStreamsEventLog> logger) : IEventLog, IHealthCheck
{
    private const string KeyField = "k";
    private const string ValueField = "v";
    private readonly SemaphoreSlim durabilityCheck = new(1, 1);
    private volatile bool verified = options.AssumeDurableRedis;

    public async Task AppendAsync(IReadOnlyList<EventLogRecord> records, CancellationToken cancellationToken = default)
    {
        if (records.Count == 0)
        {
            return;
        }

        try
        {
            await EnsureDurableAsync();
            var db = redis.GetDatabase();
            var stream = (RedisKey)options.Topic;

            // Pipelined: every XADD is sent before the first answer is awaited.
            var adds = new Task<RedisValue>[records.Count];
            for (var i = 0; i < records.Count; i++)
            {
                adds[i] = db.StreamAddAsync(stream, [new NameValueEntry(KeyField, records[i].Key), new NameValueEntry(ValueField, records[i].Value)]);
            }

            await Task.WhenAll(adds).WaitAsync(options.AckTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw new EventLogUnavailableException($"Redis did not acknowledge {records.Count} event(s) within {options.AckTimeout.TotalSeconds:0.#} s: {ex.Message}", ex);
        }
    }

    public IEventLogConsumer CreateConsumer(string group, string consumerName) => new Consumer(redis, options, group, consumerName, logger);

    public async Task<EventLogBacklog> BacklogAsync(string group, CancellationToken cancellationToken = default)
    {
        var db = redis.GetDatabase();
        var stream = (RedisKey)options.Topic;
        var deadLettered = await db.StreamLengthAsync(options.DeadLetterTopic);
        if (!await db.KeyExistsAsync(stream))
        {
            return new(0, null, deadLettered);
        }

        // Before the group exists (no processor has started), every entry is pending.
        var info = (await db.StreamGroupInfoAsync(stream)).FirstOrDefault(g => g.Name == group);
        var lastDelivered = info.Name is null ? "0-0" : info.LastDeliveredId ?? "0-0";
        var firstUnread = await db.StreamRangeAsync(stream, "(" + lastDelivered, "+", count: 1);
        // Redis knows the lag unless entries were deleted; else count the unread ones (capped: a huge lag is huge either way).
        var unread = info.Name is not null && info.Lag is { } lag ? lag
            : firstUnread.Length == 0 ? 0 : (await db.StreamRangeAsync(stream, "(" + lastDelivered, "+", count: 100_000)).Length;
        var oldest = firstUnread.Length == 0 ? (DateTimeOffset?)null : AppendedAt(firstUnread[0].Id);
        if (info.Name is not null && info.PendingMessageCount > 0)
        {
            var pending = await db.StreamPendingAsync(stream, group);
            var oldestPending = AppendedAt(pending.LowestPendingMessageId);
            oldest = oldest is null || oldestPending < oldest ? oldestPending : oldest;
            unread += pending.PendingMessageCount;
        }

        return new(unread, oldest, deadLettered);
    }

    /// <summary>An entry id's first part is the append time in Unix milliseconds.</summary>
    private static DateTimeOffset AppendedAt(RedisValue id)
    {
        var text = id.ToString();
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        return DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(dash < 0 ? text : text[..dash], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Ready only on a server that is durable enough to be the log; the reason otherwise.</summary>
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await EnsureDurableAsync();
            return HealthCheckResult.Healthy("Redis Streams event log: appendonly yes, appendfsync always.");
        }
        catch (InvalidOperationException ex)
        {
            return HealthCheckResult.Unhealthy(ex.Message);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("Redis is unreachable.", ex);
        }
    }

    /// <summary>
    /// A log that loses acknowledged events on a crash is no log: refuse unless the server writes the AOF and
    /// fsyncs it before each reply.
    /// </summary>
    private async Task EnsureDurableAsync()
    {
        if (verified)
        {
            return;
        }

        await durabilityCheck.WaitAsync();
        try
        {
            if (verified)
            {
                return;
            }

            var endpoint = redis.GetEndPoints()[0];
            var db = redis.GetDatabase();
            string? aof, fsync;
            try
            {
                aof = ConfigValue(await db.ExecuteAsync("CONFIG", "GET", "appendonly"));
                fsync = ConfigValue(await db.ExecuteAsync("CONFIG", "GET", "appendfsync"));
            }
            catch (RedisCommandException ex)
            {
                throw new InvalidOperationException($"Cannot verify that Redis at {endpoint} is durable: the event log's connection needs allowAdmin=true (CONFIG GET).", ex);
            }
            catch (RedisServerException ex)
            {
                throw new InvalidOperationException(
                    $"Cannot verify that Redis at {endpoint} is durable (CONFIG GET refused: {ex.Message}). If the server is known to run " +
                    $"appendonly yes with appendfsync always, set {EventLogOptions.SectionName}:AssumeDurableRedis=true.", ex);
            }

            if (aof != "yes" || fsync != "always")
            {
                throw new InvalidOperationException(
                    $"Redis at {endpoint} runs appendonly={aof ?? "?"}, appendfsync={fsync ?? "?"}: it can lose acknowledged events. " +
                    "The event log on Redis Streams needs appendonly yes and appendfsync always (or Kafka/Redpanda).");
            }

            verified = true;
            logger.LogInformation("Redis at {Endpoint} is durable (appendonly yes, appendfsync always): the event log runs on Redis Streams.", endpoint);
        }
        finally
        {
            durabilityCheck.Release();
        }
    }

    /// <summary>CONFIG GET answers [name, value].</summary>
    private static string? ConfigValue(RedisResult result) =>
        result.Resp2Type == ResultType.Array && result.Length == 2 ? result[1].ToString() : null;

    private sealed class Consumer : IEventLogConsumer
    {
        private readonly IDatabase db;
        private readonly EventLogOptions options;
        private readonly string group;
        private readonly string name;
        private readonly ILogger logger;
        private readonly RedisKey stream;
        private bool groupReady;
        private bool ownPendingRead;
        private RedisValue ownPendingFrom = "0";

        // Entries handed out and not yet acknowledged: never handed out again by this consumer (a pipelined
        // caller holds several batches at once, and may hold one past the claim timeout while a sink is down).
        private readonly HashSet<string> inFlight = [];

        public Consumer(IConnectionMultiplexer redis, EventLogOptions options, string group, string name, ILogger logger)
        {
            db = redis.GetDatabase();
            this.options = options;
            this.group = group;
            this.name = name;
            this.logger = logger;
            stream = options.Topic;
        }

        public async Task<IReadOnlyList<ConsumedRecord>> ReadAsync(int max, TimeSpan wait, CancellationToken cancellationToken = default)
        {
            await EnsureGroupAsync();

            // A consumer restarted under its name first gets back what it had read and not acknowledged before it
            // stopped (its last batch, exactly), at once rather than after the claim timeout.
            if (!ownPendingRead)
            {
                var own = await db.StreamReadGroupAsync(stream, group, name, ownPendingFrom, max);
                if (own.Length > 0)
                {
                    ownPendingFrom = own[^1].Id;
                    return Hand(own.Where(e => !e.IsNull && e.Values.Length > 0).Select(e => ToRecord(e, 2)));
                }

                ownPendingRead = true;
            }

            var deadline = DateTime.UtcNow + wait;
            while (true)
            {
                // First what a consumer that died (or stalled) left unacknowledged, then new entries.
                var claimed = await db.StreamAutoClaimAsync(stream, group, name, (long)options.ClaimAfter.TotalMilliseconds, "0-0", max);
                var records = new List<ConsumedRecord>();
                if (claimed.ClaimedEntries.Length > 0)
                {
                    var counts = await DeliveryCountsAsync(claimed.ClaimedEntries);
                    records.AddRange(claimed.ClaimedEntries.Where(e => !e.IsNull && !IsInFlight(e.Id.ToString()))
                        .Select(e => ToRecord(e, counts.GetValueOrDefault(e.Id.ToString(), 2))));
                }

                if (records.Count < max)
                {
                    var fresh = await db.StreamReadGroupAsync(stream, group, name, ">", max - records.Count);
                    records.AddRange(fresh.Select(e => ToRecord(e, 1)));
                }

                if (records.Count > 0 || DateTime.UtcNow >= deadline)
                {
                    return Hand(records);
                }

                // StackExchange.Redis has no blocking XREADGROUP (it would stall the shared connection): poll briefly.
                await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
            }
        }

        // A stream group has no liveness to keep: an entry read and not acknowledged waits in the pending list.
        public Task KeepAliveAsync(TimeSpan wait, CancellationToken cancellationToken = default) => Task.Delay(wait, cancellationToken);

        public async Task AckAsync(IReadOnlyList<ConsumedRecord> records, CancellationToken cancellationToken = default)
        {
            if (records.Count > 0)
            {
                await db.StreamAcknowledgeAsync(stream, group, records.Select(r => (RedisValue)(string)r.Handle!).ToArray());
                lock (inFlight)
                {
                    inFlight.ExceptWith(records.Select(r => (string)r.Handle!));
                }
            }
        }

        public async Task DeadLetterAsync(ConsumedRecord record, string reason, CancellationToken cancellationToken = default)
        {
            await db.StreamAddAsync(options.DeadLetterTopic,
            [
                new NameValueEntry(KeyField, record.Key), new NameValueEntry(ValueField, record.Value),
                new NameValueEntry("reason", reason), new NameValueEntry("position", record.Position),
            ]);
            await AckAsync([record], cancellationToken);
            logger.LogWarning("Event log record {Position} dead-lettered: {Reason}", record.Position, reason);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private List<ConsumedRecord> Hand(IEnumerable<ConsumedRecord> records)
        {
            var list = records.ToList();
            lock (inFlight)
            {
                inFlight.UnionWith(list.Select(r => (string)r.Handle!));
            }

            return list;
        }

        private bool IsInFlight(string id)
        {
            lock (inFlight)
            {
                return inFlight.Contains(id);
            }
        }

        private async Task EnsureGroupAsync()
        {
            if (groupReady)
            {
                return;
            }

            try
            {
                await db.StreamCreateConsumerGroupAsync(stream, group, "0-0", createStream: true);
            }
            catch (RedisServerException ex) when (ex.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
            {
            }

            groupReady = true;
        }

        private async Task<Dictionary<string, int>> DeliveryCountsAsync(StreamEntry[] entries)
        {
            // XAUTOCLAIM returns entries in id order: the first and last bound the range.
            var pending = await db.StreamPendingMessagesAsync(stream, group, entries.Length, name, entries[0].Id, entries[^1].Id);
            return pending.ToDictionary(p => p.MessageId.ToString(), p => p.DeliveryCount);
        }

        private ConsumedRecord ToRecord(StreamEntry entry, int deliveryCount) => new(
            entry[KeyField].ToString(), (byte[])entry[ValueField]!, $"{options.Topic}@{entry.Id}", deliveryCount)
        {
            Handle = entry.Id.ToString(),
        };
    }
}
