using System.Globalization;
using System.Text.Json;

namespace Tokage.Pricing;

/// <summary>One model of a LiteLLM-format price document: its key, its <c>litellm_provider</c>, its token prices.</summary>
public sealed record PricedModel(string Key, string Provider, ModelPrice Price);

/// <summary>
/// Reads LiteLLM's <c>model_prices_and_context_window.json</c> format. Each price is parsed from the JSON token's
/// own text (<c>3e-06</c> becomes exactly 0.000003m): a number never passes through a <see cref="double"/>.
/// </summary>
public static class LiteLlmPrices
{
    public static IReadOnlyList<PricedModel> Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var models = new List<PricedModel>();
        foreach (var entry in document.RootElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Object || entry.Name == "sample_spec")
            {
                continue;
            }

            var price = Read(name => entry.Value.TryGetProperty(name, out var value) ? value : null);
            if (price.HasTokenPrices || price.Units.Any)
            {
                var provider = entry.Value.TryGetProperty("litellm_provider", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
                models.Add(new PricedModel(entry.Name, provider, price));
            }
        }

        return models;
    }

    /// <summary>The LiteLLM price fields Tokage bills by.</summary>
    public static IReadOnlyList<string> Fields { get; } =
    [
        "input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost", "cache_creation_input_token_cost",
        "cache_creation_input_token_cost_above_1hr", "output_cost_per_reasoning_token",
        "input_cost_per_token_above_200k_tokens", "output_cost_per_token_above_200k_tokens", "cache_read_input_token_cost_above_200k_tokens",
        "cache_creation_input_token_cost_above_200k_tokens", "cache_creation_input_token_cost_above_1hr_above_200k_tokens",
        "input_cost_per_token_batches", "output_cost_per_token_batches",
        "input_cost_per_token_flex", "output_cost_per_token_flex", "cache_read_input_token_cost_flex", "cache_creation_input_token_cost_flex",
        "input_cost_per_token_priority", "output_cost_per_token_priority", "cache_read_input_token_cost_priority", "cache_creation_input_token_cost_priority",
        "input_cost_per_token_above_200k_tokens_priority", "output_cost_per_token_above_200k_tokens_priority", "cache_read_input_token_cost_above_200k_tokens_priority",
        "input_cost_per_audio_token", "input_cost_per_image_token", "cache_read_input_audio_token_cost", "cache_creation_input_audio_token_cost",
        "output_cost_per_audio_token", "output_cost_per_image_token",
        "input_cost_per_image", "output_cost_per_second", "input_cost_per_second", "search_context_cost_per_query",
    ];

    /// <summary>The billed price fields of an entry as canonical decimal strings (what the registry stores).</summary>
    public static SortedDictionary<string, string> ReadFields(JsonElement entry)
    {
        var fields = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in Fields)
        {
            if (entry.TryGetProperty(name, out var value) && Decimal(value, name) is { } price)
            {
                fields[name] = price.ToString(CultureInfo.InvariantCulture);
            }
        }

        return fields;
    }

    /// <summary>Prices from stored decimal strings.</summary>
    public static ModelPrice FromFields(IReadOnlyDictionary<string, string> fields)
    {
        using var document = JsonDocument.Parse(JsonSerializer.Serialize(fields));
        var root = document.RootElement.Clone();
        return Read(name => root.TryGetProperty(name, out var value) ? value : null);
    }

    /// <summary>Prices from named fields (a document entry, or a row of the price-change history with decimal strings).</summary>
    public static ModelPrice Read(Func<string, JsonElement?> field)
    {
        decimal? D(string name) => field(name) is { } value ? Decimal(value, name) : null;
        return new ModelPrice
        {
            Standard = new BucketRates(
                D("input_cost_per_token"), D("output_cost_per_token"), D("cache_read_input_token_cost"),
                D("cache_creation_input_token_cost"), D("cache_creation_input_token_cost_above_1hr"), D("output_cost_per_reasoning_token")),
            Above200k = new BucketRates(
                D("input_cost_per_token_above_200k_tokens"), D("output_cost_per_token_above_200k_tokens"),
                D("cache_read_input_token_cost_above_200k_tokens"), D("cache_creation_input_token_cost_above_200k_tokens"),
                D("cache_creation_input_token_cost_above_1hr_above_200k_tokens")),
            Batch = new BucketRates(D("input_cost_per_token_batches"), D("output_cost_per_token_batches")),
            Flex = new BucketRates(
                D("input_cost_per_token_flex"), D("output_cost_per_token_flex"), D("cache_read_input_token_cost_flex"), D("cache_creation_input_token_cost_flex")),
            Priority = new BucketRates(
                D("input_cost_per_token_priority"), D("output_cost_per_token_priority"), D("cache_read_input_token_cost_priority"), D("cache_creation_input_token_cost_priority")),
            PriorityAbove200k = new BucketRates(
                D("input_cost_per_token_above_200k_tokens_priority"), D("output_cost_per_token_above_200k_tokens_priority"),
                D("cache_read_input_token_cost_above_200k_tokens_priority")),
            Modalities = new ModalityRates(
                D("input_cost_per_audio_token"), D("input_cost_per_image_token"), D("cache_read_input_audio_token_cost"),
                D("cache_creation_input_audio_token_cost"), D("output_cost_per_audio_token"), D("output_cost_per_image_token")),
            Units = new UnitRates(D("input_cost_per_image"), D("output_cost_per_second") ?? D("input_cost_per_second"), D("search_context_cost_per_query")),
        };
    }

    private static decimal? Decimal(JsonElement value, string name) => value.ValueKind switch
    {
        JsonValueKind.Number => ParseText(value.GetRawText(), name),
        JsonValueKind.String => ParseText(value.GetString()!, name),
        JsonValueKind.Null => null,
        // search_context_cost_per_query lists a price per context size: the medium one is LiteLLM's default.
        JsonValueKind.Object when value.TryGetProperty("search_context_size_medium", out var medium) => Decimal(medium, name),
        _ => throw new FormatException($"'{name}' is not a number."),
    };

    private static decimal ParseText(string text, string name) =>
        decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var price) && price >= 0
            ? price
            : throw new FormatException($"'{name}' is not a non-negative decimal: '{text}'.");
}
