using System.Globalization;
using System.Text.Json;
using Tokage.Pricing;

namespace Tokage.PriceRegistry.Prices;

/// <summary>
/// The first versions, from the data Tokage ships: the price-change history (each change's "before" from the
/// history's start, each "after" from the day it appeared) and the 2026-07-24 snapshot for every model the history
/// does not cover (or where it differs from the history's last word).
/// </summary>
public static class PriceSeed
{
    /// <summary>The first snapshot the history was taken from.</summary>
    public static readonly DateTimeOffset HistoryStart = new(2025, 2, 6, 0, 0, 0, TimeSpan.Zero);

    public static List<PriceVersion> Build()
    {
        var versions = new List<PriceVersion>();
        var latest = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        using (var history = JsonDocument.Parse(ShippedPrices.ChangeHistory()))
        {
            var changes = history.RootElement.GetProperty("changes").EnumerateArray()
                .Select(c => (Model: c.GetProperty("model").GetString()!, Provider: c.GetProperty("provider").GetString()!,
                    At: DateTimeOffset.Parse(c.GetProperty("effective_from").GetString()!, CultureInfo.InvariantCulture),
                    Old: LiteLlmPrices.ReadFields(c.GetProperty("old")), New: LiteLlmPrices.ReadFields(c.GetProperty("new"))))
                .OrderBy(c => c.At);
            foreach (var change in changes)
            {
                if (!latest.ContainsKey(change.Model) && change.Old.Count > 0)
                {
                    versions.Add(new PriceVersion(0, change.Model, change.Provider, HistoryStart, change.Old, "history"));
                }

                versions.Add(new PriceVersion(0, change.Model, change.Provider, change.At, change.New, "history"));
                latest[change.Model] = change.New;
            }
        }

        using var snapshot = JsonDocument.Parse(ShippedPrices.SnapshotDocument());
        foreach (var entry in snapshot.RootElement.EnumerateObject().Where(e => e.Value.ValueKind == JsonValueKind.Object && e.Name != "sample_spec"))
        {
            var fields = LiteLlmPrices.ReadFields(entry.Value);
            if (fields.Count == 0)
            {
                continue;
            }

            var provider = entry.Value.TryGetProperty("litellm_provider", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
            if (!latest.TryGetValue(entry.Name, out var last))
            {
                versions.Add(new PriceVersion(0, entry.Name, provider, HistoryStart, fields, "snapshot"));
            }
            else if (!last.OrderBy(f => f.Key).SequenceEqual(fields))
            {
                versions.Add(new PriceVersion(0, entry.Name, provider, ShippedPrices.SnapshotDate, fields, "snapshot"));
            }
        }

        // One version per model and instant: the later word of the same day wins.
        return versions.GroupBy(v => (v.ModelKey, v.EffectiveFrom)).Select(g => g.Last()).ToList();
    }
}
