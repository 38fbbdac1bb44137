namespace Tokage.Analytics.Tests;

/// <summary>A usage row by hand; histories come from <see cref="SyntheticUsage"/>.</summary>
internal static class Rows
{
    public static UsageEventRow Event(string tenant, string id, DateTime at, decimal cost = 0.001m, string model = "gpt-4o") => new()
    {
        TenantId = tenant,
        EventId = id,
        EventTime = at,
        IngestTime = at.AddSeconds(1),
        IngestVersion = 1,
        Source = "http",
        Provider = "openai",
        Model = model,
        InputTokens = 1000,
        OutputTokens = 100,
        Priced = true,
        CostUsd = cost,
        PriceVersionId = "pv-1",
        PricedModel = model,
        Classification = "BILLING",
    };
}
