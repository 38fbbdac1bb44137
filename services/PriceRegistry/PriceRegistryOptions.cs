namespace Tokage.PriceRegistry;

/// <summary>Bound from <c>Tokage:PriceRegistry</c>.</summary>
public sealed class PriceRegistryOptions
{
    public const string SectionName = "Tokage:PriceRegistry";

    /// <summary>
    /// The bearer token of the write endpoints and of reading tenants' overrides (negotiated prices are confidential).
    /// Unset, those answer 503; the public reads work either way. The AppHost passes the shared admin token.
    /// </summary>
    public string AdminToken { get; set; } = "";

    /// <summary>
    /// The bearer token the gRPC feed (snapshot and changes) asks of its readers, the services that price events:
    /// the feed carries tenants' negotiated prices. Unset, the feed answers UNAVAILABLE to everyone.
    /// </summary>
    public string FeedToken { get; set; } = "";

    /// <summary>Events a repricing reads, prices and adjusts at a time (one ClickHouse page, one progress update).</summary>
    public int RepricingPageSize { get; set; } = 10_000;

    /// <summary>How often an idle replica looks for a queued repricing.</summary>
    public TimeSpan RepricingPoll { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A running repricing whose worker has not reported for this long is taken over by another replica.</summary>
    public TimeSpan RepricingLease { get; set; } = TimeSpan.FromMinutes(2);
}
