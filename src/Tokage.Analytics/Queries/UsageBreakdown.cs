namespace Tokage.Analytics.Queries;

/// <summary>What a breakdown can group and filter by.</summary>
public enum UsageDimension
{
    Provider,
    Model,
    Application,
    Project,
    User,
    Team,
    Environment,

    /// <summary>The tenant's own customer as the event named it (external id or alias; empty when unassigned).</summary>
    Customer,
    Day,
    Hour,
}

/// <summary>Where a breakdown's numbers come from. <see cref="Auto"/> takes the coarsest table that can answer exactly.</summary>
public enum UsageSource
{
    Auto,
    Raw,
    Hourly,
    Daily,

    /// <summary>The daily rollup without users: for breakdowns that neither group nor filter by user.</summary>
    DailyCompact,

    /// <summary>The daily rollup by user alone: for breakdowns that group by user (and day) and filter by user only.</summary>
    DailyUser,

    /// <summary>The hourly rollup by customer, provider, model and application: for breakdowns by customer.</summary>
    HourlyCustomer,
}

public static class UsageSourceNames
{
    /// <summary>The name APIs report a source by: <c>raw</c>, <c>hourly</c>, <c>daily</c>, <c>daily_compact</c>, <c>daily_user</c>, <c>hourly_customer</c>.</summary>
    public static string WireName(this UsageSource source) => source switch
    {
        UsageSource.DailyCompact => "daily_compact",
        UsageSource.DailyUser => "daily_user",
        UsageSource.HourlyCustomer => "hourly_customer",
        _ => source.ToString().ToLowerInvariant(),
    };
}

/// <summary>A cost breakdown over <c>[From, To)</c> for one tenant.</summary>
public sealed record BreakdownQuery
{
    public required DateTimeOffset From { get; init; }
    public required DateTimeOffset To { get; init; }
    public IReadOnlyList<UsageDimension> GroupBy { get; init; } = [];

    /// <summary>Equality filters on the non-time dimensions.</summary>
    public IReadOnlyDictionary<UsageDimension, string> Filters { get; init; } = new Dictionary<UsageDimension, string>();

    /// <summary>The zone days and hours are counted in.</summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;
    public UsageSource Source { get; init; } = UsageSource.Auto;
}

/// <summary>
/// Sums over a set of events. <see cref="CostUsd"/> is what they were charged, null when every event was unpriced;
/// <see cref="AdjustmentsUsd"/> what repricings (corrected prices, prices that arrived later) added to it since.
/// </summary>
public sealed record UsageTotals(
    ulong Events,
    ulong UnpricedEvents,
    ulong InputTokens,
    ulong CacheReadTokens,
    ulong CacheWriteTokens,
    ulong CacheWrite1hTokens,
    ulong OutputTokens,
    ulong ReasoningTokens,
    decimal? CostUsd,
    decimal AdjustmentsUsd = 0m)
{
    public static UsageTotals Zero { get; } = new(0, 0, 0, 0, 0, 0, 0, 0, null);

    /// <summary>The non-text parts of the token counts (audio, image, video), each inside its total.</summary>
    public ModalityTokens Modalities { get; init; }

    /// <summary>Units reported beside the tokens: input images, seconds of audio, web searches.</summary>
    public ulong Images { get; init; }

    public decimal AudioSeconds { get; init; }

    public ulong WebSearchQueries { get; init; }

    public UsageTotals Add(UsageTotals other) => new(
        Events + other.Events,
        UnpricedEvents + other.UnpricedEvents,
        InputTokens + other.InputTokens,
        CacheReadTokens + other.CacheReadTokens,
        CacheWriteTokens + other.CacheWriteTokens,
        CacheWrite1hTokens + other.CacheWrite1hTokens,
        OutputTokens + other.OutputTokens,
        ReasoningTokens + other.ReasoningTokens,
        CostUsd is null && other.CostUsd is null ? null : (CostUsd ?? 0m) + (other.CostUsd ?? 0m),
        AdjustmentsUsd + other.AdjustmentsUsd)
    {
        Modalities = Modalities.Plus(other.Modalities),
        Images = Images + other.Images,
        AudioSeconds = AudioSeconds + other.AudioSeconds,
        WebSearchQueries = WebSearchQueries + other.WebSearchQueries,
    };
}

/// <summary>One group: its key per grouped dimension (days as <c>yyyy-MM-dd</c>, hours as ISO 8601 with the zone's offset).</summary>
/// <remarks>Two rows are equal when their keys and totals are (the dictionary compared by content), so whole answers compare.</remarks>
public sealed record BreakdownRow(IReadOnlyDictionary<UsageDimension, string> Keys, UsageTotals Totals)
{
    public bool Equals(BreakdownRow? other) =>
        other is not null && Totals == other.Totals && Keys.Count == other.Keys.Count
        && Keys.All(k => other.Keys.TryGetValue(k.Key, out var value) && value == k.Value);

    public override int GetHashCode() => Totals.GetHashCode();
}

public sealed record BreakdownResult(IReadOnlyList<BreakdownRow> Rows, UsageTotals Totals, UsageSource Source);
