namespace Tokage.Billing.Plans;

/// <summary>What a charge counts, read from the usage store per billing period.</summary>
public enum Meter
{
    /// <summary>The provider list cost Tokage computed for the events, in USD.</summary>
    CostUsd,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheWriteTokens,
    ReasoningTokens,
    Events,
}

public enum PriceModel
{
    /// <summary><c>unit_price_usd</c> per <c>per_units</c> units.</summary>
    PerUnit,

    /// <summary>Each tier prices the units that fall in it.</summary>
    Graduated,

    /// <summary>The tier the whole quantity falls in prices every unit.</summary>
    Volume,

    /// <summary><c>unit_price_usd</c> per started package of <c>package_size</c> units.</summary>
    Package,

    /// <summary>On the cost meter: cost × (1 + <c>markup_percent</c>/100).</summary>
    Markup,
}

/// <summary>One tier: units up to <see cref="UpTo"/> (inclusive; null for the last, unbounded tier).</summary>
public sealed record PriceTier(decimal? UpTo, decimal UnitPriceUsd, decimal FlatFeeUsd = 0m);

/// <summary>Usage a charge counts: only events of this model, provider and application (each optional).</summary>
public sealed record ChargeFilter(string? Model = null, string? Provider = null, string? Application = null)
{
    public static ChargeFilter None { get; } = new();

    public bool Matches(string provider, string model, string application) =>
        (Model is null || Model == model) && (Provider is null || Provider == provider) && (Application is null || Application == application);
}

/// <summary>One line of a plan: a meter, optionally filtered, priced by one price model, with free units per period.</summary>
public sealed record Charge
{
    public required string Key { get; init; }
    public required Meter Meter { get; init; }
    public ChargeFilter Filter { get; init; } = ChargeFilter.None;
    public required PriceModel PriceModel { get; init; }
    public decimal? UnitPriceUsd { get; init; }

    /// <summary>Prices are per this many units (e.g. 1,000,000 tokens); 1 by default.</summary>
    public decimal PerUnits { get; init; } = 1m;
    public IReadOnlyList<PriceTier> Tiers { get; init; } = [];
    public decimal? PackageSize { get; init; }
    public decimal? MarkupPercent { get; init; }
    public decimal IncludedUnits { get; init; }

    /// <summary>
    /// The <c>event_name</c> of a Stripe meter: when set, the billing pipeline sends this charge's quantity per customer and
    /// hour to Stripe as meter events (whole units; the cost meter in millionths of a dollar).
    /// </summary>
    public string? StripeMeterEventName { get; init; }
}

/// <summary>One version of a plan: what a subscription period costs.</summary>
public sealed record PlanDefinition
{
    public decimal? BaseFeeUsd { get; init; }
    public decimal? MinimumUsd { get; init; }
    public IReadOnlyList<Charge> Charges { get; init; } = [];
}
