using System.Globalization;
using System.Text.Json;
using Tokage.Pricing;

namespace Tokage.PriceRegistry.Prices;

/// <summary>One model of an imported LiteLLM-format document: its key, <c>litellm_provider</c>, and billed price fields (decimal strings).</summary>
public sealed record ImportedModel(string Model, string Provider, IReadOnlyDictionary<string, string> Fields);

public enum ImportChange
{
    Added,
    Changed,
    Unchanged,

    /// <summary>The version in effect starts at the import's instant and differs: one version per instant, so nothing is written.</summary>
    Conflict,
}

public sealed record FieldChange(string? Before, string? After);

public sealed record ModelDiff(
    string Model,
    string Provider,
    ImportChange Change,
    IReadOnlyDictionary<string, string> After,
    IReadOnlyDictionary<string, FieldChange> Fields,
    long? VersionId = null,
    long? PreviousVersionId = null);

public sealed record ImportResult(DateTimeOffset EffectiveFrom, IReadOnlyList<ModelDiff> Models, int Unchanged)
{
    public int Added => Models.Count(m => m.Change == ImportChange.Added);

    /// <summary>The repricing queued for events stored unpriced, when models were added in effect before now.</summary>
    public long? RepricingId { get; init; }

    public int Changed => Models.Count(m => m.Change == ImportChange.Changed);

    public int Conflicts => Models.Count(m => m.Change == ImportChange.Conflict);
}

/// <summary>
/// A LiteLLM-format document against the public prices in effect: a model with no version is added, one whose billed
/// fields differ (by value: <c>3e-06</c> equals <c>0.000003</c>) is changed, the rest are unchanged. Models the
/// document leaves out keep their prices (a document that drops a model is no price change).
/// </summary>
public static class PriceImport
{
    /// <summary>Reads a document's models; errors name the model and field (a bad price is never skipped silently).</summary>
    public static (List<ImportedModel> Models, Dictionary<string, string[]> Errors) Read(JsonElement document)
    {
        var models = new List<ImportedModel>();
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (document.ValueKind != JsonValueKind.Object)
        {
            errors["body"] = ["A LiteLLM-format document is a JSON object of model name → entry."];
            return (models, errors);
        }

        foreach (var entry in document.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Object || entry.Name == "sample_spec")
            {
                continue;
            }

            try
            {
                var fields = LiteLlmPrices.ReadFields(entry.Value);
                if (fields.Count > 0)
                {
                    var provider = entry.Value.TryGetProperty("litellm_provider", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
                    models.Add(new ImportedModel(entry.Name, provider, fields));
                }
            }
            catch (FormatException ex)
            {
                errors[entry.Name] = [ex.Message];
            }
        }

        if (models.Count == 0 && errors.Count == 0)
        {
            errors["body"] = ["The document prices no model (no entry has a LiteLLM price field)."];
        }

        return (models, errors);
    }

    public static ImportResult Diff(IReadOnlyList<ImportedModel> document, IReadOnlyList<PriceVersion> inEffect, DateTimeOffset effectiveFrom)
    {
        var current = inEffect.ToDictionary(v => v.ModelKey, StringComparer.Ordinal);
        var diffs = new List<ModelDiff>();
        var unchanged = 0;
        foreach (var model in document.DistinctBy(m => m.Model, StringComparer.Ordinal).OrderBy(m => m.Model, StringComparer.Ordinal))
        {
            current.TryGetValue(model.Model, out var before);
            var fields = Compare(before?.Prices ?? new Dictionary<string, string>(), model.Fields);
            if (before is not null && fields.Count == 0)
            {
                unchanged++;
                continue;
            }

            var change = before is null ? ImportChange.Added : before.EffectiveFrom == effectiveFrom ? ImportChange.Conflict : ImportChange.Changed;
            diffs.Add(new ModelDiff(model.Model, model.Provider, change, model.Fields, fields, PreviousVersionId: before?.Id));
        }

        return new ImportResult(effectiveFrom, diffs, unchanged);
    }

    private static SortedDictionary<string, FieldChange> Compare(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> after)
    {
        var changes = new SortedDictionary<string, FieldChange>(StringComparer.Ordinal);
        foreach (var name in before.Keys.Union(after.Keys))
        {
            before.TryGetValue(name, out var old);
            after.TryGetValue(name, out var @new);
            if (Value(old) != Value(@new))
            {
                changes[name] = new FieldChange(old, @new);
            }
        }

        return changes;
    }

    private static decimal? Value(string? text) => text is null ? null : decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
}
