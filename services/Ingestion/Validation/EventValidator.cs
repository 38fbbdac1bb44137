using Microsoft.Extensions.Options;
using Tokage.Contracts.V1;
using Tokage.Pricing;

namespace Tokage.Ingestion.Validation;

/// <summary>One thing wrong with one field of one event.</summary>
public sealed record FieldProblem(string Field, string Code, string Message);

/// <summary>
/// The rules every event meets before it is logged, whatever it came in as (JSON, gRPC, OTLP): the same
/// rules, the same codes, so a client can act on them.
/// </summary>
public sealed class EventValidator(IOptions<IngestOptions> options, TimeProvider time)
{
    /// <summary>The most tokens of one kind an event may count: the bound OTLP spans have too (Tokage.Otlp).</summary>
    public const long MaxTokensPerCall = 1_000_000_000;

    public const int MaxEventIdLength = 128;
    public const int MaxNameLength = 256;
    public const int MaxCustomerLength = 128;
    public const decimal MaxAudioSecondsPerCall = 86_400m;


    /// <param name="modelOptional">
    /// For spans (OTLP): usage whose span names no model or provider is stored unpriced rather than refused, so
    /// no usage is dropped silently; a native event must name both.
    /// </param>
    public List<FieldProblem> Validate(TokenUsageEvent e, List<FieldProblem>? problems = null, bool modelOptional = false)
    {
        problems ??= [];
        var settings = options.Value;
        Required(problems, "event_id", e.EventId, MaxEventIdLength);
        if (e.Timestamp is null)
        {
            problems.Add(new("timestamp", "required", "'timestamp' is required (RFC 3339, e.g. 2026-11-20T10:15:02.120Z)."));
        }
        else if (!IsCalendarTime(e.Timestamp))
        {
            // The wire allows any seconds and nanos; only google.protobuf.Timestamp's documented range is a date.
            problems.Add(new("timestamp", "invalid", "'timestamp' must lie in 0001-01-01 to 9999-12-31 with nanos in [0, 999999999]."));
        }
        else
        {
            var at = e.Timestamp.ToDateTimeOffset();
            var now = time.GetUtcNow();
            if (at > now + settings.FutureSkew)
            {
                problems.Add(new("timestamp", "in_future", $"'timestamp' is more than {settings.FutureSkew.TotalMinutes:0} minutes ahead of the server's clock ({now:O})."));
            }
            else if (at < now - settings.BackdateGrace)
            {
                problems.Add(new("timestamp", "too_old", $"'timestamp' is more than {settings.BackdateGrace.TotalDays:0} days old; backdated events are accepted within that window only."));
            }
        }

        if (modelOptional)
        {
            TooLong(problems, "provider", e.Provider, MaxNameLength);
            TooLong(problems, "model", e.Model, MaxNameLength);
        }
        else
        {
            Required(problems, "provider", e.Provider, MaxNameLength);
            Required(problems, "model", e.Model, MaxNameLength);
        }
        foreach (var (field, value) in new[]
        {
            ("application", e.Application), ("project", e.Project), ("user_id", e.UserId), ("team", e.Team),
            ("environment", e.Environment), ("trace_id", e.TraceId), ("span_id", e.SpanId),
        })
        {
            TooLong(problems, field, value, MaxNameLength);
        }

        TooLong(problems, "customer", e.Customer, MaxCustomerLength);
        TooLong(problems, "reservation_id", e.ReservationId, MaxEventIdLength);

        if (!ServiceTiers.IsNamed(e.ServiceTier))
        {
            problems.Add(new("service_tier", "unknown_value", "'service_tier' must be one of standard, batch, flex, priority."));
        }

        ValidateUsage(problems, e.Usage);
        ValidateMetadata(problems, e.Metadata, settings);
        return problems;
    }

    // google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
    private const long MinTimestampSeconds = -62_135_596_800;
    private const long MaxTimestampSeconds = 253_402_300_799;

    private static bool IsCalendarTime(Google.Protobuf.WellKnownTypes.Timestamp timestamp) =>
        timestamp.Seconds is >= MinTimestampSeconds and <= MaxTimestampSeconds && timestamp.Nanos is >= 0 and <= 999_999_999;

    private static void ValidateUsage(List<FieldProblem> problems, TokenUsage? usage)
    {
        if (usage is null)
        {
            problems.Add(new("usage", "required", "'usage' with the call's token counts is required."));
            return;
        }

        var before = problems.Count;
        var counts = new (string Name, long Value)[]
        {
            ("input_tokens", usage.InputTokens), ("cache_read_tokens", usage.CacheReadTokens), ("cache_write_tokens", usage.CacheWriteTokens),
            ("cache_write_1h_tokens", usage.CacheWrite1HTokens), ("output_tokens", usage.OutputTokens), ("reasoning_tokens", usage.ReasoningTokens),
            ("audio_input_tokens", usage.AudioInputTokens), ("image_input_tokens", usage.ImageInputTokens), ("video_input_tokens", usage.VideoInputTokens),
            ("audio_cache_read_tokens", usage.AudioCacheReadTokens), ("image_cache_read_tokens", usage.ImageCacheReadTokens),
            ("audio_cache_write_tokens", usage.AudioCacheWriteTokens), ("audio_output_tokens", usage.AudioOutputTokens), ("image_output_tokens", usage.ImageOutputTokens),
            ("images", usage.Images), ("web_search_queries", usage.WebSearchQueries),
        };
        var refused = false;
        foreach (var (name, value) in counts.Where(c => c.Value < 0))
        {
            problems.Add(new($"usage.{name}", "negative", $"'usage.{name}' must be a non-negative integer."));
            refused = true;
        }

        if (refused)
        {
            return;
        }

        // No model call reports more; a larger count is a client bug, and summed into rollups it could overflow them.
        foreach (var (name, value) in counts.Where(c => c.Value > MaxTokensPerCall))
        {
            problems.Add(new($"usage.{name}", "too_large", $"'usage.{name}' is {value:N0}, more than {MaxTokensPerCall:N0} tokens in one call."));
            refused = true;
        }

        if (refused)
        {
            return;
        }

        // Input counts every prompt token, cached ones included; output counts reasoning.
        if ((decimal)usage.CacheReadTokens + usage.CacheWriteTokens + usage.CacheWrite1HTokens > usage.InputTokens)
        {
            problems.Add(new("usage.cache_read_tokens", "exceeds_input",
                "cache_read_tokens + cache_write_tokens + cache_write_1h_tokens must not exceed input_tokens (input counts cached tokens too)."));
        }

        if (usage.ReasoningTokens > usage.OutputTokens)
        {
            problems.Add(new("usage.reasoning_tokens", "exceeds_output", "reasoning_tokens must not exceed output_tokens (output counts reasoning too)."));
        }

        if (problems.Count == before)
        {
            ValidateModalities(problems, usage);
        }

        // Over gRPC the seconds come as text: a non-negative decimal, at most a day of audio in one call.
        if (usage.AudioSeconds.Length > 0 && !(decimal.TryParse(usage.AudioSeconds, System.Globalization.NumberStyles.AllowDecimalPoint,
                System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds is >= 0m and <= MaxAudioSecondsPerCall && seconds.Scale <= 6))
        {
            problems.Add(new("usage.audio_seconds", "invalid", $"'usage.audio_seconds' must be a non-negative decimal number of seconds (to the microsecond), at most {MaxAudioSecondsPerCall:0} in one call."));
        }
    }

    /// <summary>The non-text parts, each inside its totals: the pricing library's rule, each misfit naming its field and the total it exceeds.</summary>
    private static void ValidateModalities(List<FieldProblem> problems, TokenUsage usage)
    {
        var totals = new TokenCounts(usage.InputTokens, usage.CacheReadTokens, usage.CacheWriteTokens, usage.CacheWrite1HTokens, usage.OutputTokens, usage.ReasoningTokens,
            new ModalityCounts(usage.AudioInputTokens, usage.ImageInputTokens, usage.VideoInputTokens, usage.AudioCacheReadTokens, usage.ImageCacheReadTokens,
                usage.AudioCacheWriteTokens, usage.AudioOutputTokens, usage.ImageOutputTokens));
        foreach (var misfit in totals.Modalities.Misfits(totals))
        {
            problems.Add(new($"usage.{misfit.Field}", misfit.Code, $"{misfit.Rule} (each modality's count is part of its total)."));
        }
    }

    private static void ValidateMetadata(List<FieldProblem> problems, IDictionary<string, string> metadata, IngestOptions settings)
    {
        if (metadata.Count > settings.MaxMetadataEntries)
        {
            problems.Add(new("metadata", "too_many", $"'metadata' has {metadata.Count} entries; at most {settings.MaxMetadataEntries}."));
            return;
        }

        foreach (var (key, value) in metadata)
        {
            if (key.Length == 0 || key.Length > settings.MaxMetadataKeyLength)
            {
                problems.Add(new($"metadata.{Truncate(key)}", "invalid", $"metadata keys are 1 to {settings.MaxMetadataKeyLength} characters."));
            }
            else if (value.Length > settings.MaxMetadataValueLength)
            {
                problems.Add(new($"metadata.{key}", "too_long", $"metadata values are at most {settings.MaxMetadataValueLength} characters."));
            }
        }
    }

    private static void Required(List<FieldProblem> problems, string field, string value, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            problems.Add(new(field, "required", $"'{field}' is required."));
        }
        else
        {
            TooLong(problems, field, value, maxLength);
        }
    }

    private static void TooLong(List<FieldProblem> problems, string field, string value, int maxLength)
    {
        if (value.Length > maxLength)
        {
            problems.Add(new(field, "too_long", $"'{field}' is at most {maxLength} characters."));
        }
    }

    private static string Truncate(string key) => key.Length > 16 ? key[..16] + "…" : key;
}
