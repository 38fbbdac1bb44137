namespace Tokage.EventProcessor;

/// <summary>Bound from <c>Tokage:Processor</c>.</summary>
public sealed class ProcessorOptions
{
    public const string SectionName = "Tokage:Processor";

    /// <summary>Most records in one batch: one dedupe round trip, one INSERT, one archive file per tenant-hour.</summary>
    public int BatchSize { get; set; } = 1000;

    /// <summary>How long a batch waits to fill once its first record arrived.</summary>
    public TimeSpan BatchWait { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The event log's consumer group: every processor replica is one consumer of it.</summary>
    public string ConsumerGroup { get; set; } = "event-processor";

    /// <summary>
    /// This replica's consumer name. Keep it stable across restarts (the default is the host name): a restarted
    /// processor then reads back exactly the batch it had not committed, and rewrites it under the same batch token.
    /// </summary>
    public string ConsumerName { get; set; } = Environment.MachineName;

    /// <summary>How long an event id is remembered for deduplication.</summary>
    public TimeSpan DedupeWindow { get; set; } = TimeSpan.FromDays(45);

    /// <summary>The first wait after a failed batch; doubled each time, with jitter, up to <see cref="RetryMax"/>.</summary>
    public TimeSpan RetryInitial { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan RetryMax { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The price registry's gRPC address (service discovery resolves <c>_grpc.price-registry</c>).</summary>
    public string PriceRegistryAddress { get; set; } = "http://_grpc.price-registry";

    /// <summary>The price registry's feed token (<c>Tokage:PriceRegistry:FeedToken</c> there), sent as a bearer token.</summary>
    public string PriceFeedToken { get; set; } = "";

    /// <summary>Whether the Parquet archive is written (every batch, before ClickHouse).</summary>
    public bool Archive { get; set; } = true;

    /// <summary>
    /// Fault injection for the crash tests: after the first batch is stored and before its commit, log
    /// <see cref="PausedBeforeCommitMessage"/> and wait forever (for a kill -9). Never set it in production.
    /// </summary>
    public bool PauseBeforeFirstCommit { get; set; }

    public const string PausedBeforeCommitMessage = "Fault injection: batch stored, paused before its commit.";
}
