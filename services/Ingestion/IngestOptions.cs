namespace Tokage.Ingestion;

/// <summary>Bound from <c>Tokage:Ingest</c>.</summary>
public sealed class IngestOptions
{
    public const string SectionName = "Tokage:Ingest";

    public int MaxBatchEvents { get; set; } = 1_000;

    /// <summary>Largest body of <c>POST /v1/events/batch</c> (and a gRPC message), after decompression.</summary>
    public int MaxBatchBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Largest body of <c>POST /v1/events</c>, after decompression.</summary>
    public int MaxEventBytes { get; set; } = 1024 * 1024;

    /// <summary>How far back an event's timestamp may be (backfills); older ones are refused.</summary>
    public TimeSpan BackdateGrace { get; set; } = TimeSpan.FromDays(35);

    /// <summary>How far ahead of the server's clock a timestamp may be.</summary>
    public TimeSpan FutureSkew { get; set; } = TimeSpan.FromMinutes(5);

    public int MaxMetadataEntries { get; set; } = 32;

    public int MaxMetadataKeyLength { get; set; } = 64;

    public int MaxMetadataValueLength { get; set; } = 1024;

    /// <summary>
    /// How long a span with usage that does not say it is a model call (an agent, a workflow, a span that does not say)
    /// waits before it is billed, so that its children, exported at the same moment in requests of their own, mark it
    /// as their wrapper first. Model calls never wait.
    /// </summary>
    public TimeSpan WrapperSettle { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// The longest the shared rate limiter (Redis) may take before the fallback decides: a Redis that is gone would
    /// otherwise hold every request for the client library's whole timeout.
    /// </summary>
    public TimeSpan RateLimiterTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>What the tenants' rate limits do while Redis (where the shared buckets live) cannot be reached.</summary>
    public RateLimitFallback RateLimitWhenRedisDown { get; set; } = RateLimitFallback.LocalBucket;
}

/// <summary>The rate limiter's behaviour without Redis.</summary>
public enum RateLimitFallback
{
    /// <summary>Each ingestion instance enforces each tenant's limit in memory: with N instances a tenant gets at most N× its limit.</summary>
    LocalBucket,

    /// <summary>No limit is enforced (usage is never refused for want of a limiter).</summary>
    FailOpen,

    /// <summary>Every request is refused with 503 and Retry-After until Redis answers (a limit is never exceeded).</summary>
    FailClosed,
}
