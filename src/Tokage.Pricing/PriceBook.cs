namespace Tokage.Pricing;

/// <summary>A price found for an event: which version, and how the model name led to it.</summary>
public sealed record PriceAnswer(PriceVersion Version, Resolution How)
{
    /// <summary>The version's rates, decoded once per version.</summary>
    public ModelPrice Price { get; init; } = LiteLlmPrices.FromFields(Version.Prices);
}

/// <summary>
/// Every price version in memory, public ones and tenants' overrides. A model is resolved by name
/// (<see cref="PriceCatalog"/>) among the tenant's overrides first, then among public prices; the version in
/// effect at the instant asked for is the latest one that started at or before it. Thread-safe: readers see one
/// whole book, <see cref="Load"/> and <see cref="Add"/> swap in a new one.
/// </summary>
public sealed class PriceBook
{
    private readonly Lock writeLock = new();
    private volatile Book book = Book.Empty;

    public int VersionCount => book.All.Count;

    /// <summary>The highest version id held: the change feed's cursor.</summary>
    public long LatestId => book.LatestId;

    public IReadOnlyList<PriceVersion> Versions => book.All;

    public void Load(IEnumerable<PriceVersion> versions)
    {
        lock (writeLock)
        {
            book = Book.Build([.. versions]);
        }
    }

    /// <summary>Adds versions that arrived after the last load (ids it already holds are ignored).</summary>
    public void Add(IEnumerable<PriceVersion> versions)
    {
        lock (writeLock)
        {
            var current = book;
            var known = current.All.Select(v => v.Id).ToHashSet();
            var added = versions.Where(v => !known.Contains(v.Id)).ToList();
            if (added.Count > 0)
            {
                book = Book.Build([.. current.All, .. added]);
            }
        }
    }

    /// <summary>The price of (provider, model) at <paramref name="at"/> for the tenant; null means unpriced (never $0).</summary>
    public PriceAnswer? Find(string tenantId, string provider, string model, DateTimeOffset at)
    {
        var current = book;
        if (tenantId.Length > 0 && current.Tenants.TryGetValue(tenantId, out var overrides)
            && overrides.Find(provider, model, at) is { } negotiated)
        {
            return negotiated;
        }

        return current.Public.Find(provider, model, at);
    }

    public PriceAnswer? Find(string provider, string model, DateTimeOffset at) => Find("", provider, model, at);

    /// <summary>Every version of the model (provider, model) resolves to, oldest first: the tenant's overrides if it has any, else the public ones.</summary>
    public IReadOnlyList<PriceVersion>? History(string tenantId, string provider, string model)
    {
        var current = book;
        return tenantId.Length > 0 && current.Tenants.TryGetValue(tenantId, out var overrides) && overrides.History(provider, model) is { } own
            ? own
            : current.Public.History(provider, model);
    }

    public IReadOnlyList<PriceVersion>? History(string provider, string model) => History("", provider, model);

    private sealed record Book(IReadOnlyList<PriceVersion> All, long LatestId, Shelf Public, Dictionary<string, Shelf> Tenants)
    {
        public static readonly Book Empty = new([], 0, Shelf.Build([]), []);

        public static Book Build(List<PriceVersion> all) => new(
            all,
            all.Count == 0 ? 0 : all.Max(v => v.Id),
            Shelf.Build(all.Where(v => !v.IsOverride)),
            all.Where(v => v.IsOverride).GroupBy(v => v.TenantId, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => Shelf.Build(g), StringComparer.Ordinal));
    }

    /// <summary>One set of versions (public, or one tenant's), grouped by model, with its name resolution.</summary>
    private sealed class Shelf
    {
        private readonly Dictionary<string, List<(PriceVersion Version, ModelPrice Price)>> byModel;
        private readonly PriceCatalog catalog;

        // Names repeat endlessly (a few models per tenant): resolve each (provider, model) pair once per shelf.
        private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string), ResolvedPrice?> resolved = new();

        private Shelf(Dictionary<string, List<(PriceVersion, ModelPrice)>> byModel, PriceCatalog catalog)
        {
            this.byModel = byModel;
            this.catalog = catalog;
        }

        public static Shelf Build(IEnumerable<PriceVersion> versions)
        {
            var byModel = versions.GroupBy(v => v.ModelKey, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(
                    g => g.Key,
                    g => g.OrderBy(v => v.EffectiveFrom).ThenBy(v => v.Id).Select(v => (v, LiteLlmPrices.FromFields(v.Prices))).ToList(),
                    StringComparer.OrdinalIgnoreCase);
            var catalog = new PriceCatalog(byModel.Values.Select(v => v[^1]).Select(v => new PricedModel(v.Item1.ModelKey, v.Item1.Provider, v.Item2)));
            return new Shelf(byModel, catalog);
        }

        public PriceAnswer? Find(string provider, string model, DateTimeOffset at)
        {
            if (Resolve(provider, model) is not { } resolution || !byModel.TryGetValue(resolution.Model.Key, out var versions))
            {
                return null;
            }

            // Versions are ordered by start: the last that started at or before the instant is in effect.
            for (var i = versions.Count - 1; i >= 0; i--)
            {
                var (version, price) = versions[i];
                if (version.EffectiveFrom <= at)
                {
                    return version.Prices.Count == 0 ? null : new PriceAnswer(version, resolution.How) { Price = price };
                }
            }

            return null;
        }

        public IReadOnlyList<PriceVersion>? History(string provider, string model) =>
            Resolve(provider, model) is { } resolution && byModel.TryGetValue(resolution.Model.Key, out var versions)
                ? versions.Select(v => v.Version).ToList()
                : null;

        private ResolvedPrice? Resolve(string provider, string model) =>
            resolved.Count < 100_000
                ? resolved.GetOrAdd((provider, model), static (key, c) => c.Resolve(key.Item1, key.Item2), catalog)
                : catalog.Resolve(provider, model);
    }
}
