using System.Globalization;
using Google.Protobuf.Collections;
using OpenTelemetry.Proto.Common.V1;

namespace Tokage.Otlp;

/// <summary>A token count read from an attribute: absent, a count, or a value that is not a count.</summary>
internal readonly record struct CountReading(long? Value, string? Error, string Code = "")
{
    public static readonly CountReading Absent = new(null, null);

    public bool IsAbsent => Value is null && Error is null;
}

/// <summary>A span's attributes, with its resource's behind them for attribution.</summary>
internal sealed class SpanAttributes(Dictionary<string, AnyValue> span, Dictionary<string, AnyValue> resource)
{
    /// <summary>More tokens than any context window holds, by orders of magnitude: a broken instrumentation, not a call.</summary>
    public const long MaxTokensPerCall = 1_000_000_000;

    public static Dictionary<string, AnyValue> Index(RepeatedField<KeyValue> attributes)
    {
        var index = new Dictionary<string, AnyValue>(attributes.Count, StringComparer.Ordinal);
        foreach (var attribute in attributes)
        {
            // The spec forbids duplicate keys; where an exporter sends them anyway, the first wins.
            if (attribute.Value is { } value)
            {
                index.TryAdd(attribute.Key, value);
            }
        }

        return index;
    }

    /// <summary>The first of <paramref name="keys"/> the span itself sets to a non-empty text.</summary>
    public string? OnSpan(params ReadOnlySpan<string> keys)
    {
        foreach (var key in keys)
        {
            if (Text(span, key) is { } text)
            {
                return text;
            }
        }

        return null;
    }

    /// <summary>The first of <paramref name="keys"/> set on the span, else the first set on its resource.</summary>
    public string? OnSpanOrResource(params ReadOnlySpan<string> keys)
    {
        foreach (var key in keys)
        {
            if (Text(span, key) is { } text)
            {
                return text;
            }
        }

        foreach (var key in keys)
        {
            if (Text(resource, key) is { } text)
            {
                return text;
            }
        }

        return null;
    }

    /// <summary>The first of <paramref name="keys"/> the span sets to a count; a value that is not a count stops the search.</summary>
    public CountReading Count(params ReadOnlySpan<string> keys)
    {
        foreach (var key in keys)
        {
            if (span.TryGetValue(key, out var value) && Read(key, value) is { IsAbsent: false } reading)
            {
                return reading;
            }
        }

        return CountReading.Absent;
    }

    /// <summary>Whether the span sets any of <paramref name="keys"/>, whatever the value.</summary>
    public bool HasAny(params ReadOnlySpan<string> keys)
    {
        foreach (var key in keys)
        {
            if (span.ContainsKey(key))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The span's own non-negative decimal at <paramref name="key"/> (seconds and the like: int, double or text), to
    /// six places; null when absent or not such a number.
    /// </summary>
    public decimal? Quantity(string key)
    {
        if (!span.TryGetValue(key, out var value))
        {
            return null;
        }

        var text = value.ValueCase switch
        {
            AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
            AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString("R", CultureInfo.InvariantCulture),
            AnyValue.ValueOneofCase.StringValue => value.StringValue.Trim(),
            _ => null,
        };
        return decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && number >= 0 ? decimal.Round(number, 6) : null;
    }

    /// <summary>The span's own text value of <paramref name="key"/> (JSON payloads and the like, not trimmed).</summary>
    public string? Raw(string key) =>
        span.TryGetValue(key, out var value) && value.ValueCase == AnyValue.ValueOneofCase.StringValue && value.StringValue.Length > 0 ? value.StringValue : null;

    private static string? Text(Dictionary<string, AnyValue> attributes, string key)
    {
        if (!attributes.TryGetValue(key, out var value))
        {
            return null;
        }

        var text = value.ValueCase switch
        {
            AnyValue.ValueOneofCase.StringValue => value.StringValue.Trim(),
            // A numeric user id is still an id.
            AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
            _ => null,
        };
        return string.IsNullOrEmpty(text) ? null : text;
    }

    /// <summary>
    /// Counts arrive as int, double or text depending on the language and the instrumentation. Negative counts,
    /// fractions, non-numbers and absurd sizes are errors, because billing a guess is worse than rejecting the span
    /// visibly (with the reason, in the export's partial success and the OTLP report).
    /// </summary>
    private static CountReading Read(string key, AnyValue value)
    {
        switch (value.ValueCase)
        {
            case AnyValue.ValueOneofCase.None:
                return CountReading.Absent;
            case AnyValue.ValueOneofCase.IntValue:
                return Checked(key, value.IntValue);
            case AnyValue.ValueOneofCase.DoubleValue:
                return FromDecimalText(key, value.DoubleValue.ToString("R", CultureInfo.InvariantCulture));
            case AnyValue.ValueOneofCase.StringValue:
                var text = value.StringValue.Trim();
                if (text.Length == 0)
                {
                    return CountReading.Absent;
                }

                return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole)
                    ? Checked(key, whole)
                    : FromDecimalText(key, text);
            default:
                return new(null, $"'{key}' is a {value.ValueCase}, not a token count.", "not_a_count");
        }
    }

    /// <summary>A count from its text, by the same rules as an attribute's (used for counts inside JSON payloads).</summary>
    public static CountReading ParseCount(string key, string text)
    {
        text = text.Trim();
        return text.Length == 0 ? CountReading.Absent
            : long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole) ? Checked(key, whole)
            : FromDecimalText(key, text);
    }

    private static CountReading FromDecimalText(string key, string text)
    {
        if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return new(null, $"'{key}' is not a number: '{Shorten(text)}'.", "not_a_number");
        }

        if (number < 0)
        {
            return Negative(key, text);
        }

        if (number != decimal.Truncate(number))
        {
            return new(null, $"'{key}' is not a whole number of tokens: {Shorten(text)}.", "fractional_count");
        }

        return number > MaxTokensPerCall ? TooLarge(key, text) : new((long)number, null);
    }

    private static CountReading Checked(string key, long count) => count switch
    {
        < 0 => Negative(key, count.ToString(CultureInfo.InvariantCulture)),
        > MaxTokensPerCall => TooLarge(key, count.ToString(CultureInfo.InvariantCulture)),
        _ => new(count, null),
    };

    private static CountReading Negative(string key, string text) => new(null, $"'{key}' is negative ({Shorten(text)}): a token count cannot be.", "negative_count");

    private static CountReading TooLarge(string key, string text) =>
        new(null, $"'{key}' is {Shorten(text)}, more than {MaxTokensPerCall:N0} tokens in one call.", "too_large");

    private static string Shorten(string text) => text.Length > 32 ? text[..32] + "…" : text;
}
