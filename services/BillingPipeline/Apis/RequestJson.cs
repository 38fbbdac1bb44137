using System.Globalization;
using System.Text.Json;
using Tokage.BillingPipeline.Billing;

namespace Tokage.BillingPipeline.Apis;

/// <summary>Fields of a JSON request body, each read with the problem it has named by field.</summary>
internal sealed class RequestJson(JsonElement body)
{
    public Dictionary<string, string[]> Errors { get; } = [];

    public bool IsObject => body.ValueKind == JsonValueKind.Object;

    public bool Has(string name) => body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null;

    public JsonElement Element => body;

    public string? String(string name, int maxLength, bool required = false)
    {
        if (!Has(name))
        {
            if (required)
            {
                Errors[name] = [$"'{name}' is required."];
            }

            return null;
        }

        var value = body.GetProperty(name);
        if (value.ValueKind != JsonValueKind.String)
        {
            Errors[name] = [$"'{name}' must be a string."];
            return null;
        }

        var text = value.GetString()!;
        if (text.Length > maxLength || (required && text.Trim().Length == 0))
        {
            Errors[name] = [required ? $"'{name}' must be 1 to {maxLength} characters." : $"'{name}' is at most {maxLength} characters."];
            return null;
        }

        return text;
    }

    public List<string>? Strings(string name, int maxLength, int maxCount)
    {
        if (!Has(name))
        {
            return null;
        }

        var value = body.GetProperty(name);
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() > maxCount
            || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String || v.GetString()!.Length is 0 || v.GetString()!.Length > maxLength))
        {
            Errors[name] = [$"'{name}' must be an array of at most {maxCount} non-empty strings of at most {maxLength} characters."];
            return null;
        }

        return [.. value.EnumerateArray().Select(v => v.GetString()!).Distinct(StringComparer.Ordinal)];
    }

    public int? Integer(string name, int min, int max)
    {
        if (!Has(name))
        {
            return null;
        }

        var value = body.GetProperty(name);
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && number >= min && number <= max)
        {
            return number;
        }

        Errors[name] = [$"'{name}' must be a whole number from {min} to {max}."];
        return null;
    }

    /// <summary>A decimal from a JSON number or string, read from its text (never through a double).</summary>
    public decimal? Decimal(string name) => Tokage.Billing.Plans.PlanJson.OptionalNumber(body, name, name, Errors);

    public DateOnly? Date(string name)
    {
        if (String(name, 10) is not { } text)
        {
            return null;
        }

        if (IsoDay.Parse(text) is { } date)
        {
            return date;
        }

        Errors[name] = [$"'{name}' must be a date, YYYY-MM-DD."];
        return null;
    }

    public DateTimeOffset? Instant(string name)
    {
        if (String(name, 40) is not { } text)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
        {
            return at;
        }

        Errors[name] = [$"'{name}' must be an RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z."];
        return null;
    }
}
