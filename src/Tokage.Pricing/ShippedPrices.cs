namespace Tokage.Pricing;

/// <summary>The price data Tokage ships (LiteLLM, MIT; see Data/NOTICE.md): the 2026-07-24 snapshot and the change history.</summary>
public static class ShippedPrices
{
    public static DateTimeOffset SnapshotDate { get; } = new(2026, 7, 24, 0, 0, 0, TimeSpan.Zero);

    public static IReadOnlyList<PricedModel> Snapshot() => LiteLlmPrices.Parse(SnapshotDocument());

    public static byte[] SnapshotDocument() => Read("Tokage.Pricing.Data.litellm-model-prices.json");

    public static byte[] ChangeHistory() => Read("Tokage.Pricing.Data.litellm-price-changes.json");

    private static byte[] Read(string name)
    {
        using var stream = typeof(ShippedPrices).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The price data '{name}' is not embedded.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
