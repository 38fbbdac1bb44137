namespace Tokage.Analytics;

/// <summary>
/// One stored usage event: normalised, cache-inclusive token counts and the server-side cost
/// (<see cref="CostUsd"/> is 0 and <see cref="Priced"/> false when no price was known).
/// </summary>
public sealed record UsageEventRow
{
    public required string TenantId { get; init; }
    public required string EventId { get; init; }
    public required DateTime EventTime { get; init; }
    public required DateTime IngestTime { get; init; }

    /// <summary>The replacing version: of two rows for one event, the higher one is kept.</summary>
    public ulong IngestVersion { get; init; }

    /// <summary>Where the event came in: <c>http</c>, <c>grpc</c>, <c>otlp</c>, …</summary>
    public string Source { get; init; } = "";
    public required string Provider { get; init; }
    public required string Model { get; init; }
    public string ServiceTier { get; init; } = "";
    public string Application { get; init; } = "";
    public string Project { get; init; } = "";
    public string UserId { get; init; } = "";
    public string Team { get; init; } = "";
    public string Environment { get; init; } = "";

    /// <summary>The tenant's own customer (external id or alias as the event named it); empty when unassigned.</summary>
    public string Customer { get; init; } = "";

    /// <summary>The budget reservation the event settles (empty: none).</summary>
    public string ReservationId { get; init; } = "";
    public ulong InputTokens { get; init; }
    public ulong CacheReadTokens { get; init; }
    public ulong CacheWriteTokens { get; init; }
    public ulong CacheWrite1hTokens { get; init; }
    public ulong OutputTokens { get; init; }
    public ulong ReasoningTokens { get; init; }

    /// <summary>The parts of the counts that are not text (audio, image, video), each inside its total.</summary>
    public ModalityTokens Modalities { get; init; }

    /// <summary>Units the event reported beside its tokens: input images, seconds of audio, web searches.</summary>
    public ulong Images { get; init; }
    public decimal AudioSeconds { get; init; }
    public ulong WebSearchQueries { get; init; }
    public bool Priced { get; init; }
    public decimal CostUsd { get; init; }
    public string PriceVersionId { get; init; } = "";

    /// <summary>The registry model the price came from (after resolution of dated or prefixed names).</summary>
    public string PricedModel { get; init; } = "";
    public string Classification { get; init; } = "";
    public string TraceId { get; init; } = "";
    public string SpanId { get; init; } = "";

    /// <summary>The event log position of the record this row came from (e.g. <c>tokage.usage.v1/3@1234</c>).</summary>
    public string LogPosition { get; init; } = "";
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    internal static readonly string[] Columns =
    [
        "tenant_id", "event_id", "event_time", "ingest_time", "ingest_version", "source", "provider", "model",
        "service_tier", "application", "project", "user_id", "team", "environment", "customer", "input_tokens",
        "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens",
        "priced", "cost_usd", "price_version_id", "priced_model", "classification", "trace_id", "span_id",
        "log_position", "metadata", "reservation_id", .. ModalityTokens.ColumnNames, "images", "audio_seconds", "web_search_queries",
    ];

    internal object[] ToColumns() =>
    [
        TenantId, EventId, AsUtc(EventTime), AsUtc(IngestTime), IngestVersion, Source, Provider, Model,
        ServiceTier, Application, Project, UserId, Team, Environment, Customer, InputTokens,
        CacheReadTokens, CacheWriteTokens, CacheWrite1hTokens, OutputTokens, ReasoningTokens,
        Priced, CostUsd, PriceVersionId, PricedModel, Classification, TraceId, SpanId,
        LogPosition, Metadata as Dictionary<string, string> ?? new Dictionary<string, string>(Metadata), ReservationId,
        Modalities.AudioInput, Modalities.ImageInput, Modalities.VideoInput, Modalities.AudioCacheRead, Modalities.ImageCacheRead,
        Modalities.AudioCacheWrite, Modalities.AudioOutput, Modalities.ImageOutput, Images, AudioSeconds, WebSearchQueries,
    ];

    internal static DateTime AsUtc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        DateTimeKind.Local => value.ToUniversalTime(),
        _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
    };
}

/// <summary>An event's non-text token counts as stored (zero where the event named none).</summary>
public readonly record struct ModalityTokens(
    ulong AudioInput = 0,
    ulong ImageInput = 0,
    ulong VideoInput = 0,
    ulong AudioCacheRead = 0,
    ulong ImageCacheRead = 0,
    ulong AudioCacheWrite = 0,
    ulong AudioOutput = 0,
    ulong ImageOutput = 0)
{
    /// <summary>The stored column names, in this record's order.</summary>
    public static readonly string[] ColumnNames =
    [
        "audio_input_tokens", "image_input_tokens", "video_input_tokens", "audio_cache_read_tokens", "image_cache_read_tokens",
        "audio_cache_write_tokens", "audio_output_tokens", "image_output_tokens",
    ];

    public ModalityTokens Plus(ModalityTokens other) => new(
        AudioInput + other.AudioInput, ImageInput + other.ImageInput, VideoInput + other.VideoInput, AudioCacheRead + other.AudioCacheRead,
        ImageCacheRead + other.ImageCacheRead, AudioCacheWrite + other.AudioCacheWrite, AudioOutput + other.AudioOutput, ImageOutput + other.ImageOutput);

    /// <summary>The counts in <see cref="ColumnNames"/> order.</summary>
    public ulong[] ToArray() => [AudioInput, ImageInput, VideoInput, AudioCacheRead, ImageCacheRead, AudioCacheWrite, AudioOutput, ImageOutput];
}

/// <summary>A record that could not be stored as usage, kept with why and what it was.</summary>
public sealed record QuarantineRow
{
    public string TenantId { get; init; } = "";
    public string EventId { get; init; } = "";
    public required DateTime ReceivedTime { get; init; }
    public string Source { get; init; } = "";

    /// <summary>A short machine-readable reason: <c>undecodable</c>, <c>unknown_schema_version</c>, <c>invalid</c>, …</summary>
    public required string Reason { get; init; }
    public string Detail { get; init; } = "";
    public string Payload { get; init; } = "";
    public string LogPosition { get; init; } = "";

    internal static readonly string[] Columns =
        ["tenant_id", "event_id", "received_time", "source", "reason", "detail", "payload", "log_position"];

    internal object[] ToColumns() =>
        [TenantId, EventId, UsageEventRow.AsUtc(ReceivedTime), Source, Reason, Detail, Payload, LogPosition];
}

/// <summary>A record that repeated an event already stored (same tenant and event id, another log record).</summary>
public sealed record DuplicateRow
{
    public required string TenantId { get; init; }
    public required string EventId { get; init; }
    public required DateTime ReceivedTime { get; init; }
    public string Source { get; init; } = "";

    /// <summary>Where the repeat sits in the event log.</summary>
    public required string LogPosition { get; init; }

    /// <summary>The log position of the first record with this event id, the one that was stored.</summary>
    public required string DuplicateOf { get; init; }

    internal static readonly string[] Columns = ["tenant_id", "event_id", "received_time", "source", "log_position", "duplicate_of"];

    internal object[] ToColumns() => [TenantId, EventId, UsageEventRow.AsUtc(ReceivedTime), Source, LogPosition, DuplicateOf];
}

/// <summary>
/// What a repricing found one event should cost beyond what it was charged: <see cref="AdjustmentUsd"/> is the
/// difference (to its charge plus earlier adjustments), <see cref="CostUsd"/> the cost it leads to. Carries the event's
/// dimensions so rollups and breakdowns place it where the event is.
/// </summary>
public sealed record UsageAdjustmentRow
{
    public required string TenantId { get; init; }
    public required string EventId { get; init; }
    public required ulong RepricingId { get; init; }
    public required DateTime EventTime { get; init; }
    public required DateTime AdjustedAt { get; init; }
    public string Provider { get; init; } = "";
    public string Model { get; init; } = "";
    public string Application { get; init; } = "";
    public string Project { get; init; } = "";
    public string UserId { get; init; } = "";
    public string Team { get; init; } = "";
    public string Environment { get; init; } = "";
    public string Customer { get; init; } = "";

    /// <summary>The version that prices the event now.</summary>
    public required string PriceVersionId { get; init; }
    public required decimal CostUsd { get; init; }
    public required decimal AdjustmentUsd { get; init; }

    internal static readonly string[] Columns =
    [
        "tenant_id", "event_id", "repricing_id", "event_time", "adjusted_at", "provider", "model", "application", "project",
        "user_id", "team", "environment", "customer", "price_version_id", "cost_usd", "adjustment_usd",
    ];

    internal object[] ToColumns() =>
    [
        TenantId, EventId, RepricingId, UsageEventRow.AsUtc(EventTime), UsageEventRow.AsUtc(AdjustedAt), Provider, Model, Application, Project,
        UserId, Team, Environment, Customer, PriceVersionId, CostUsd, AdjustmentUsd,
    ];
}
