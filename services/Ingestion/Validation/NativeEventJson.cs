using System.Globalization;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Tokage.Contracts.V1;

namespace Tokage.Ingestion.Validation;

/// <summary>
/// Native events in JSON (snake_case, DESIGN §4) to <see cref="TokenUsageEvent"/>, with a problem for every field
/// of the wrong type. Counts must be JSON integers; a client-supplied cost is read only to say it is ignored.
/// </summary>
public static class NativeEventJson
{
    /// <summary>Field names clients put their own cost under; all are ignored.</summary>
    private static readonly string[] CostFields = ["cost", "cost_usd", "client_cost_usd", "total_cost", "price"];

    public sealed record Parsed(TokenUsageEvent Event, List<FieldProblem> Problems, bool HadClientCost);

    public static Parsed Parse(JsonElement element)
    {
        try
        {
            return ParseFields(element);
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json refuses to read a string (or name) that escapes half a surrogate pair, e.g. "\ud800":
            // valid JSON syntax, but no text. The whole event is refused rather than guessed at.
            return new(new TokenUsageEvent(), [new("", "invalid", "The event holds a string that escapes half a UTF-16 surrogate pair (e.g. \\ud800 alone); it is not text.")], false);
        }
    }

    private static Parsed ParseFields(JsonElement element)
    {
        var problems = new List<FieldProblem>();
        var e = new TokenUsageEvent();
        if (element.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new("", "invalid", "An event must be a JSON object."));
            return new(e, problems, false);
        }

        e.EventId = String(element, "event_id", problems);
        e.Provider = String(element, "provider", problems);
        e.Model = String(element, "model", problems);
        e.ServiceTier = String(element, "service_tier", problems);
        e.Application = String(element, "application", problems);
        e.Project = String(element, "project", problems);
        e.UserId = String(element, "user_id", problems);
        e.Team = String(element, "team", problems);
        e.Environment = String(element, "environment", problems);
        e.Customer = String(element, "customer", problems);
        e.ReservationId = String(element, "reservation_id", problems);
        e.TraceId = String(element, "trace_id", problems);
        e.SpanId = String(element, "span_id", problems);

        if (element.TryGetProperty("timestamp", out var timestamp))
        {
            if (timestamp.ValueKind == JsonValueKind.String
                && DateTimeOffset.TryParse(timestamp.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            {
                e.Timestamp = Timestamp.FromDateTimeOffset(at);
            }
            else
            {
                problems.Add(new("timestamp", "invalid", "'timestamp' must be an RFC 3339 date-time string, e.g. 2026-11-20T10:15:02.120Z."));
            }
        }

        if (element.TryGetProperty("usage", out var usage))
        {
            if (usage.ValueKind == JsonValueKind.Object)
            {
                e.Usage = new TokenUsage
                {
                    InputTokens = Count(usage, "input_tokens", problems),
                    CacheReadTokens = Count(usage, "cache_read_tokens", problems),
                    CacheWriteTokens = Count(usage, "cache_write_tokens", problems),
                    CacheWrite1HTokens = Count(usage, "cache_write_1h_tokens", problems),
                    OutputTokens = Count(usage, "output_tokens", problems),
                    ReasoningTokens = Count(usage, "reasoning_tokens", problems),
                    AudioInputTokens = Count(usage, "audio_input_tokens", problems),
                    ImageInputTokens = Count(usage, "image_input_tokens", problems),
                    VideoInputTokens = Count(usage, "video_input_tokens", problems),
                    AudioCacheReadTokens = Count(usage, "audio_cache_read_tokens", problems),
                    ImageCacheReadTokens = Count(usage, "image_cache_read_tokens", problems),
                    AudioCacheWriteTokens = Count(usage, "audio_cache_write_tokens", problems),
                    AudioOutputTokens = Count(usage, "audio_output_tokens", problems),
                    ImageOutputTokens = Count(usage, "image_output_tokens", problems),
                    Images = Count(usage, "images", problems),
                    AudioSeconds = Seconds(usage, "audio_seconds", problems),
                    WebSearchQueries = Count(usage, "web_search_queries", problems),
                };
            }
            else
            {
                problems.Add(new("usage", "invalid", "'usage' must be an object of token counts."));
                e.Usage = new TokenUsage();
            }
        }

        if (element.TryGetProperty("metadata", out var metadata) && metadata.ValueKind != JsonValueKind.Null)
        {
            if (metadata.ValueKind != JsonValueKind.Object)
            {
                problems.Add(new("metadata", "invalid", "'metadata' must be an object of string values."));
            }
            else
            {
                foreach (var entry in metadata.EnumerateObject())
                {
                    if (entry.Value.ValueKind == JsonValueKind.String)
                    {
                        e.Metadata[entry.Name] = entry.Value.GetString()!;
                    }
                    else
                    {
                        problems.Add(new($"metadata.{entry.Name}", "invalid", "metadata values must be strings."));
                    }
                }
            }
        }

        var hadCost = false;
        foreach (var field in CostFields)
        {
            if (element.TryGetProperty(field, out var cost) && cost.ValueKind is not JsonValueKind.Null)
            {
                hadCost = true;
                e.ClientCostUsd = cost.ValueKind == JsonValueKind.String ? cost.GetString() ?? "" : cost.GetRawText();
            }
        }

        return new(e, problems, hadCost);
    }

    private static string String(JsonElement element, string name, List<FieldProblem> problems)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return "";
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString()!;
        }

        problems.Add(new(name, "invalid", $"'{name}' must be a string."));
        return "";
    }

    private static long Count(JsonElement usage, string name, List<FieldProblem> problems)
    {
        if (!usage.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return 0;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var count))
        {
            return count;
        }

        problems.Add(new($"usage.{name}", "not_integer", $"'usage.{name}' must be a non-negative integer."));
        return 0;
    }

    /// <summary>A non-negative number of seconds, as a decimal read from the number's own text (never a double), kept as text.</summary>
    private static string Seconds(JsonElement usage, string name, List<FieldProblem> problems)
    {
        if (!usage.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return "";
        }

        if (value.ValueKind == JsonValueKind.Number
            && decimal.TryParse(value.GetRawText(), NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var seconds)
            && seconds >= 0m)
        {
            return seconds.ToString(CultureInfo.InvariantCulture);
        }

        problems.Add(new($"usage.{name}", "invalid", $"'usage.{name}' must be a non-negative number of seconds, e.g. 12.5."));
        return "";
    }
}
