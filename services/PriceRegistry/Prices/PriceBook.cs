using Tokage.Pricing;

namespace Tokage.PriceRegistry.Prices;

/// <summary>A price found for an event: which version, and how the model name led to it.</summary>
public sealed record PriceAnswer(PriceVersion Version, Resolution How);

/// <summary>
/// Every version in memory: a model is resolved by name (<see cref="PriceCatalog"/>), then the version in effect at
/// the instant asked for is the latest one that started at or before it.
/// </summary>
public sealed class PriceBook
{
    private volatile Book book = new([], new PriceCatalog([]));

    private sealed record Book(Dictionary<string, List<PriceVersion>> Versions, PriceCatalog Catalog);

    public int VersionCount => book.Versions.Values.Sum(v => v.Count);

    public void Load(IEnumerable<PriceVersion> versions)
    {
        var byModel = versions.GroupBy(v => v.ModelKey, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.OrderBy(v => v.EffectiveFrom).ToList(), StringComparer.OrdinalIgnoreCase);
        var catalog = new PriceCatalog(byModel.Values
            .Select(v => v[^1])
            .Select(v => new PricedModel(v.ModelKey, v.Provider, LiteLlmPrices.FromFields(v.Prices))));
        book = new Book(byModel, catalog);
    }

    /// <summary>The price of (provider, model) at <paramref name="at"/>; null means unpriced (never $0).</summary>
    public PriceAnswer? Find(string provider, string model, DateTimeOffset at)
    {
        var current = book;
        if (current.Catalog.Resolve(provider, model) is not { } resolved
            || !current.Versions.TryGetValue(resolved.Model.Key, out var versions))
        {
            return null;
        }

        var version = versions.LastOrDefault(v => v.EffectiveFrom <= at);
        return version is null || version.Prices.Count == 0 ? null : new PriceAnswer(version, resolved.How);
    }

    /// <summary>Every version of the model (provider, model) resolves to, oldest first.</summary>
    public IReadOnlyList<PriceVersion>? History(string provider, string model)
    {
        var current = book;
        return current.Catalog.Resolve(provider, model) is { } resolved && current.Versions.TryGetValue(resolved.Model.Key, out var versions)
            ? versions
            : null;
    }
}
