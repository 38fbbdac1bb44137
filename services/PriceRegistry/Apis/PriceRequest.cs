using System.Globalization;
using System.Text.Json;
using Tokage.Pricing;

namespace Tokage.PriceRegistry.Apis;

/// <summary>
/// The body of <c>POST /v1/prices</c>, checked field by field so a 400 names every problem. Prices may be JSON strings
/// or numbers; either way the decimal is parsed from the token's own text, never through a <see cref="double"/>.
/// </summary>
public sealed record PriceRequest(string Provider, string Model, DateTimeOffset EffectiveFrom, SortedDictionary<string, string> Prices, string TenantId, string Source)
{
    private const int MaxTextLength = 200;
    private static readonly HashSet<string> KnownFields = new(LiteLlmPrices.Fields, StringComparer.Ordinal);

    public static (PriceRequest? Request, Dictionary<string, string[]> Errors) Read(JsonElement body, DateTimeOffset now)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return (null, new() { ["body"] = ["The body is a JSON object: {\"provider\", \"model\", \"effective_from\", \"prices\", \"tenant_id\"?, \"source\"?}."] });
        }

        var fields = new BodyFields(body, "provider", "model", "effective_from", "prices", "tenant_id", "source");
        var provider = fields.Text("provider", required: true);
        var model = fields.Text("model", required: true);
        var tenant = fields.Text("tenant_id", required: false) ?? "";
        var source = fields.Text("source", required: false) ?? "admin";

        var effectiveFrom = now;
        if (fields.Text("effective_from", required: false) is { } from)
        {
            if (DateTimeOffset.TryParse(from, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                effectiveFrom = parsed;
            }
            else
            {
                fields.Error("effective_from", "'effective_from' must be an RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z.");
            }
        }

        var prices = ReadPrices(body, fields.Error);

        return fields.Errors is { } errors
            ? (null, errors)
            : (new PriceRequest(provider!, model!, Microseconds(effectiveFrom), prices, tenant, source), []);
    }

    /// <summary>
    /// The body of <c>POST /v1/prices/{id}/corrections</c>: <c>{"prices": {…}, "source"?}</c>, checked as a version's are;
    /// <c>source</c> defaults to <c>correction</c>.
    /// </summary>
    public static (SortedDictionary<string, string>? Prices, string Source, Dictionary<string, string[]> Errors) ReadCorrection(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return (null, "", new() { ["body"] = ["The body is a JSON object: {\"prices\", \"source\"?}."] });
        }

        var fields = new BodyFields(body, "prices", "source");
        var source = fields.Text("source", required: false) ?? "correction";
        var prices = ReadPrices(body, fields.Error);
        return fields.Errors is { } errors ? (null, source, errors) : (prices, source, []);
    }

    /// <summary>A JSON object's fields read one by one, every problem kept by field name; unknown fields are problems too.</summary>
    private sealed class BodyFields
    {
        private readonly JsonElement body;
        private readonly Dictionary<string, List<string>> errors = new(StringComparer.Ordinal);

        public BodyFields(JsonElement body, params string[] known)
        {
            this.body = body;
            foreach (var property in body.EnumerateObject().Where(p => !known.Contains(p.Name)))
            {
                Error(property.Name, $"Unknown field '{property.Name}'.");
            }
        }

        /// <summary>Every problem by field, or null when there is none.</summary>
        public Dictionary<string, string[]>? Errors =>
            errors.Count == 0 ? null : errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);

        public void Error(string field, string message)
        {
            if (!errors.TryGetValue(field, out var list))
            {
                errors[field] = list = [];
            }

            list.Add(message);
        }

        /// <summary>A non-empty string of at most <see cref="MaxTextLength"/> characters (trimmed), or null with a problem kept when it is not.</summary>
        public string? Text(string name, bool required)
        {
            if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                if (required)
                {
                    Error(name, $"'{name}' is required.");
                }

                return null;
            }

            if (value.ValueKind != JsonValueKind.String || value.GetString()!.Trim() is not { Length: > 0 } text)
            {
                Error(name, $"'{name}' must be a non-empty string.");
                return null;
            }

            if (text.Length > MaxTextLength)
            {
                Error(name, $"'{name}' is longer than {MaxTextLength} characters.");
                return null;
            }

            return text;
        }
    }

    /// <summary>The body's <c>prices</c>: LiteLLM field name → decimal string, each checked (every problem named through <paramref name="error"/>).</summary>
    public static SortedDictionary<string, string> ReadPrices(JsonElement body, Action<string, string> error)
    {
        var prices = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var fieldErrors = false;
        if (!body.TryGetProperty("prices", out var priceObject) || priceObject.ValueKind == JsonValueKind.Null)
        {
            error("prices", "'prices' is required: LiteLLM field name → USD per token, e.g. {\"input_cost_per_token\": \"0.0000025\"}.");
        }
        else if (priceObject.ValueKind != JsonValueKind.Object)
        {
            error("prices", "'prices' must be an object of LiteLLM field name → USD per token.");
        }
        else
        {
            foreach (var price in priceObject.EnumerateObject())
            {
                var field = $"prices.{price.Name}";
                if (!KnownFields.Contains(price.Name))
                {
                    fieldErrors = true;
                    error(field, $"Unknown price field '{price.Name}'; the billed LiteLLM fields are: {string.Join(", ", LiteLlmPrices.Fields)}.");
                }
                else if (prices.ContainsKey(price.Name))
                {
                    fieldErrors = true;
                    error(field, $"'{price.Name}' is given twice.");
                }
                else if (Price(price.Value) is not { } value)
                {
                    fieldErrors = true;
                    error(field, $"'{price.Name}' must be a decimal number or a decimal string, e.g. \"0.0000025\".");
                }
                else if (value < 0)
                {
                    fieldErrors = true;
                    error(field, $"'{price.Name}' is negative ({price.Value.GetRawText()}).");
                }
                else
                {
                    prices[price.Name] = value.ToString(CultureInfo.InvariantCulture);
                }
            }

            if (!fieldErrors)
            {
                if (prices.Count == 0)
                {
                    error("prices", "'prices' is empty.");
                }
                else if (!prices.ContainsKey("input_cost_per_token") && !prices.ContainsKey("output_cost_per_token"))
                {
                    error("prices", "'prices' needs 'input_cost_per_token' or 'output_cost_per_token'.");
                }
            }
        }

        return prices;
    }

    /// <summary>PostgreSQL keeps microseconds: the instant answered must be the instant stored.</summary>
    public static DateTimeOffset Microseconds(DateTimeOffset instant)
    {
        var utc = instant.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - utc.Ticks % 10, TimeSpan.Zero);
    }

    private static decimal? Price(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => Parse(value.GetRawText()),
        JsonValueKind.String => Parse(value.GetString()!),
        _ => null,
    };

    private static decimal? Parse(string text) =>
        decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var price)
            ? price
            : null;
}
