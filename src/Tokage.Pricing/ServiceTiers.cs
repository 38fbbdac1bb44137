namespace Tokage.Pricing;

/// <summary>
/// The service tiers an event's native <c>service_tier</c> may name, one list for every service: ingestion refuses
/// others, the processor quarantines others, the OTLP mapper maps providers' names onto these, and pricing reads them
/// (<see cref="EventPricing.Tier"/>).
/// </summary>
public static class ServiceTiers
{
    /// <summary>"" (not said: standard), <c>standard</c>, and the tiers priced apart.</summary>
    public static readonly IReadOnlySet<string> Named = new HashSet<string>(["", "standard", "batch", "flex", "priority"], StringComparer.Ordinal);

    public static bool IsNamed(string tier) => Named.Contains(tier);
}
