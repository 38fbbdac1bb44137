namespace Tokage.Pricing;

/// <summary>What an event costs: the version that priced it and the cost, to the 18 places the store keeps.</summary>
public sealed record PricedEvent(PriceAnswer Answer, decimal CostUsd);

/// <summary>
/// How one event is priced, the same when the processor stores it and when a repricing prices it again: the version in
/// effect at its time for its tenant, and only when that version has a rate for everything the event reports (tokens
/// of each modality, each unit). Null means unpriced (stored <c>priced=false</c>), never a guess and never $0.
/// </summary>
public static class EventPricing
{
    /// <summary>Metadata naming why an event is unpriced, when its sender already knows (<see cref="UsageMissing"/>).</summary>
    public const string UnpricedReasonKey = "tokage.unpriced_reason";

    /// <summary>
    /// A call whose provider reported no usage (an SDK's stream that ended without it): stored unpriced with this reason,
    /// visible as such — never $0 as if it had been free.
    /// </summary>
    public const string UsageMissing = "usage_missing";

    /// <summary>Whether the event's sender said its usage is unknown (<see cref="UsageMissing"/>).</summary>
    public static bool IsUsageMissing(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(UnpricedReasonKey, out var reason) && reason == UsageMissing;

    public static PricedEvent? Price(this PriceBook book, string tenantId, string provider, string model, DateTimeOffset at,
        TokenCounts tokens, UnitCounts units, string serviceTier)
    {
        if (book.Find(tenantId, provider, model, at) is not { } answer || !answer.Price.CanPrice(tokens, units))
        {
            return null;
        }

        // The column holds 18 decimal places; per-token rates times whole tokens need fewer.
        return new PricedEvent(answer, decimal.Round(CostCalculator.Compute(tokens, answer.Price, Tier(serviceTier), units).TotalUsd, 18));
    }

    /// <summary>The tier an event names (<c>batch</c>, <c>flex</c>, <c>priority</c>); anything else is standard.</summary>
    public static ServiceTier Tier(string tier) => tier switch
    {
        "batch" => ServiceTier.Batch,
        "flex" => ServiceTier.Flex,
        "priority" => ServiceTier.Priority,
        _ => ServiceTier.Standard,
    };
}
