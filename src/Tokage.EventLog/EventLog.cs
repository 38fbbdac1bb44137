namespace Tokage.EventLog;

/// <summary>A record to append: the key orders and partitions (the tenant id), the value is the encoded event.</summary>
public sealed record EventLogRecord(string Key, byte[] Value);

/// <summary>A record read from the log, with where it sits (the processor records it with the event).</summary>
public sealed record ConsumedRecord(string Key, byte[] Value, string Position, int DeliveryCount)
{
    /// <summary>The transport's own handle for acknowledging this record.</summary>
    internal object? Handle { get; init; }
}

/// <summary>The log could not acknowledge (durably) in time: the caller must not acknowledge its client (503).</summary>
public sealed class EventLogUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The durable event log. <see cref="AppendAsync"/> returns only once every record is durable (Kafka: every
/// delivery report <c>Persisted</c> under acks=all; Redis: XADD answered by an <c>appendfsync always</c> server);
/// otherwise it throws <see cref="EventLogUnavailableException"/> and the caller acknowledges nothing.
/// </summary>
public interface IEventLog
{
    Task AppendAsync(IReadOnlyList<EventLogRecord> records, CancellationToken cancellationToken = default);

    /// <summary>The consumer side, for the group named <paramref name="group"/> (one per processing service).</summary>
    IEventLogConsumer CreateConsumer(string group, string consumerName);

    /// <summary>
    /// What the group <paramref name="group"/> has not committed yet (appended but unread, or read and not acknowledged),
    /// the append time of the oldest such entry, and the dead-letter log's length: the processor's lag, for monitoring.
    /// </summary>
    Task<EventLogBacklog> BacklogAsync(string group, CancellationToken cancellationToken = default);
}

/// <summary>A consumer group's backlog: entries not committed, when the oldest was appended (null: none), dead letters in all.</summary>
public sealed record EventLogBacklog(long Pending, DateTimeOffset? OldestPendingAppendedAt, long DeadLettered);

/// <summary>
/// At-least-once consumption: records read but not acknowledged come again (after a crash, or once stuck past
/// the claim timeout); a record that cannot be processed goes to the dead-letter log with its reason.
/// </summary>
public interface IEventLogConsumer : IAsyncDisposable
{
    /// <summary>Up to <paramref name="max"/> records, waiting at most <paramref name="wait"/> for the first.</summary>
    Task<IReadOnlyList<ConsumedRecord>> ReadAsync(int max, TimeSpan wait, CancellationToken cancellationToken = default);

    /// <summary>
    /// Holds this consumer's place for about <paramref name="wait"/> while its caller cannot take more records (a
    /// sink is down, the pipeline is full): Kafka polls with its partitions paused, so the group does not evict a
    /// consumer that stopped reading (<c>max.poll.interval.ms</c>). A record that still arrives (a partition assigned
    /// meanwhile) is kept for the next <see cref="ReadAsync"/>; the next read resumes the paused partitions.
    /// </summary>
    Task KeepAliveAsync(TimeSpan wait, CancellationToken cancellationToken = default);

    /// <summary>Marks records done: they are not delivered again to this group.</summary>
    Task AckAsync(IReadOnlyList<ConsumedRecord> records, CancellationToken cancellationToken = default);

    /// <summary>Moves a record to the dead-letter log with the reason, then acknowledges it.</summary>
    Task DeadLetterAsync(ConsumedRecord record, string reason, CancellationToken cancellationToken = default);
}

/// <summary>Bound from <c>Tokage:EventLog</c>.</summary>
public sealed class EventLogOptions
{
    public const string SectionName = "Tokage:EventLog";

    /// <summary>The topic (Kafka) or stream (Redis) of usage events; the dead-letter log is <c>{Topic}.dlq</c>.</summary>
    public string Topic { get; set; } = "tokage.usage.v1";

    /// <summary>How long an append may wait for the log's acknowledgement before the request gets 503.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Redis: how long a read-but-unacknowledged entry waits before another consumer claims it.</summary>
    public TimeSpan ClaimAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Redis: skip the start-up check that the server runs <c>appendonly yes</c> with <c>appendfsync always</c>,
    /// for managed servers that refuse CONFIG GET but are known to be configured so. Never set it otherwise.
    /// </summary>
    public bool AssumeDurableRedis { get; set; }

    /// <summary>Kafka: partitions of a topic the log creates (it creates the events and dead-letter topics when missing).</summary>
    public int Partitions { get; set; } = 12;

    /// <summary>Kafka: replicas of each partition of a topic the log creates (fewer when fewer brokers, outside production).</summary>
    public short ReplicationFactor { get; set; } = 3;

    /// <summary>Kafka: <c>min.insync.replicas</c> of a topic the log creates: an acks=all write is on this many brokers.</summary>
    public int MinInSyncReplicas { get; set; } = 2;

    /// <summary>
    /// Kafka, production: refuse topics with fewer than <see cref="ReplicationFactor"/> replicas or a lower
    /// <see cref="MinInSyncReplicas"/> (not ready, appends refused with the reason). The AppHost sets it in published deployments.
    /// </summary>
    public bool RequireReplicatedTopics { get; set; }

    /// <summary>Kafka: librdkafka consumer properties (<c>Tokage:EventLog:Consumer:…</c>) over the defaults.</summary>
    public Dictionary<string, string> Consumer { get; set; } = [];

    public string DeadLetterTopic => Topic + ".dlq";
}
