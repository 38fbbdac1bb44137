using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Parquet.Serialization;
using Parquet.Serialization.Attributes;
using Tokage.Analytics;
using Tokage.Integrations.ObjectStore;

namespace Tokage.EventProcessor.Archive;

/// <summary>
/// The Parquet archive: every stored event, one file per batch and tenant-hour under
/// <c>archive/tenant={id}/date={yyyy-MM-dd}/hour={HH}/{batch}.parquet</c> (hive-style, so engines prune by path).
/// The file name is the batch's log range, and a put replaces atomically: writing a batch again writes the same
/// files with the same rows.
/// </summary>
public sealed class ParquetArchive(IObjectStore store)
{
    public const string Root = "archive";

    public async Task<IReadOnlyList<string>> WriteAsync(IReadOnlyList<UsageEventRow> rows, string batchToken, CancellationToken cancellationToken)
    {
        var files = rows
            .GroupBy(r => (r.TenantId, Hour: new DateTime(r.EventTime.Year, r.EventTime.Month, r.EventTime.Day, r.EventTime.Hour, 0, 0, DateTimeKind.Utc)))
            .Select(g => (Key: KeyOf(g.Key.TenantId, g.Key.Hour, batchToken), Rows: g.Select(ArchivedEvent.From).ToList()))
            .ToList();
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (file, ct) =>
        {
            using var buffer = new MemoryStream();
            await ParquetSerializer.SerializeAsync(file.Rows, buffer, cancellationToken: ct);
            await store.PutAsync(file.Key, buffer.GetBuffer().AsMemory(0, (int)buffer.Length), ct);
        });
        return files.Select(f => f.Key).ToList();
    }

    public static string KeyOf(string tenantId, DateTime hour, string batchToken) =>
        $"{Root}/tenant={Uri.EscapeDataString(tenantId)}/date={hour.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}/hour={hour.ToString("HH", CultureInfo.InvariantCulture)}/{batchToken}.parquet";
}

/// <summary>One archived event: the raw table's columns, metadata as a JSON object.</summary>
public sealed class ArchivedEvent
{
    [JsonPropertyName("tenant_id")] public string TenantId { get; set; } = "";
    [JsonPropertyName("event_id")] public string EventId { get; set; } = "";
    [JsonPropertyName("event_time"), ParquetTimestamp(ParquetTimestampResolution.Milliseconds)] public DateTime EventTime { get; set; }
    [JsonPropertyName("ingest_time"), ParquetTimestamp(ParquetTimestampResolution.Milliseconds)] public DateTime IngestTime { get; set; }
    [JsonPropertyName("source")] public string Source { get; set; } = "";
    [JsonPropertyName("provider")] public string Provider { get; set; } = "";
    [JsonPropertyName("model")] public string Model { get; set; } = "";
    [JsonPropertyName("service_tier")] public string ServiceTier { get; set; } = "";
    [JsonPropertyName("application")] public string Application { get; set; } = "";
    [JsonPropertyName("project")] public string Project { get; set; } = "";
    [JsonPropertyName("user_id")] public string UserId { get; set; } = "";
    [JsonPropertyName("team")] public string Team { get; set; } = "";
    [JsonPropertyName("environment")] public string Environment { get; set; } = "";
    [JsonPropertyName("customer")] public string Customer { get; set; } = "";
    [JsonPropertyName("input_tokens")] public long InputTokens { get; set; }
    [JsonPropertyName("cache_read_tokens")] public long CacheReadTokens { get; set; }
    [JsonPropertyName("cache_write_tokens")] public long CacheWriteTokens { get; set; }
    [JsonPropertyName("cache_write_1h_tokens")] public long CacheWrite1hTokens { get; set; }
    [JsonPropertyName("output_tokens")] public long OutputTokens { get; set; }
    [JsonPropertyName("reasoning_tokens")] public long ReasoningTokens { get; set; }
    [JsonPropertyName("priced")] public bool Priced { get; set; }
    [JsonPropertyName("cost_usd"), ParquetDecimal(38, 18)] public decimal CostUsd { get; set; }
    [JsonPropertyName("price_version_id")] public string PriceVersionId { get; set; } = "";
    [JsonPropertyName("priced_model")] public string PricedModel { get; set; } = "";
    [JsonPropertyName("classification")] public string Classification { get; set; } = "";
    [JsonPropertyName("trace_id")] public string TraceId { get; set; } = "";
    [JsonPropertyName("span_id")] public string SpanId { get; set; } = "";
    [JsonPropertyName("log_position")] public string LogPosition { get; set; } = "";
    [JsonPropertyName("metadata_json")] public string MetadataJson { get; set; } = "{}";
    [JsonPropertyName("reservation_id")] public string ReservationId { get; set; } = "";
    [JsonPropertyName("audio_input_tokens")] public long AudioInputTokens { get; set; }
    [JsonPropertyName("image_input_tokens")] public long ImageInputTokens { get; set; }
    [JsonPropertyName("video_input_tokens")] public long VideoInputTokens { get; set; }
    [JsonPropertyName("audio_cache_read_tokens")] public long AudioCacheReadTokens { get; set; }
    [JsonPropertyName("image_cache_read_tokens")] public long ImageCacheReadTokens { get; set; }
    [JsonPropertyName("audio_cache_write_tokens")] public long AudioCacheWriteTokens { get; set; }
    [JsonPropertyName("audio_output_tokens")] public long AudioOutputTokens { get; set; }
    [JsonPropertyName("image_output_tokens")] public long ImageOutputTokens { get; set; }
    [JsonPropertyName("images")] public long Images { get; set; }
    [JsonPropertyName("audio_seconds"), ParquetDecimal(18, 6)] public decimal AudioSeconds { get; set; }
    [JsonPropertyName("web_search_queries")] public long WebSearchQueries { get; set; }

    public static ArchivedEvent From(UsageEventRow r) => new()
    {
        TenantId = r.TenantId, EventId = r.EventId, EventTime = r.EventTime, IngestTime = r.IngestTime, Source = r.Source,
        Provider = r.Provider, Model = r.Model, ServiceTier = r.ServiceTier, Application = r.Application, Project = r.Project,
        UserId = r.UserId, Team = r.Team, Environment = r.Environment, Customer = r.Customer,
        InputTokens = (long)r.InputTokens, CacheReadTokens = (long)r.CacheReadTokens, CacheWriteTokens = (long)r.CacheWriteTokens,
        CacheWrite1hTokens = (long)r.CacheWrite1hTokens, OutputTokens = (long)r.OutputTokens, ReasoningTokens = (long)r.ReasoningTokens,
        Priced = r.Priced, CostUsd = r.CostUsd, PriceVersionId = r.PriceVersionId, PricedModel = r.PricedModel,
        Classification = r.Classification, TraceId = r.TraceId, SpanId = r.SpanId, LogPosition = r.LogPosition,
        MetadataJson = JsonSerializer.Serialize(r.Metadata), ReservationId = r.ReservationId,
        AudioInputTokens = (long)r.Modalities.AudioInput, ImageInputTokens = (long)r.Modalities.ImageInput, VideoInputTokens = (long)r.Modalities.VideoInput,
        AudioCacheReadTokens = (long)r.Modalities.AudioCacheRead, ImageCacheReadTokens = (long)r.Modalities.ImageCacheRead,
        AudioCacheWriteTokens = (long)r.Modalities.AudioCacheWrite, AudioOutputTokens = (long)r.Modalities.AudioOutput, ImageOutputTokens = (long)r.Modalities.ImageOutput,
        Images = (long)r.Images, AudioSeconds = r.AudioSeconds, WebSearchQueries = (long)r.WebSearchQueries,
    };
}
