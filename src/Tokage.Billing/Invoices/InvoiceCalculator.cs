using Tokage.Billing.Plans;
using Tokage.Billing.Rating;

namespace Tokage.Billing.Invoices;

/// <summary>A customer's usage of one (provider, model, application) in a period, as the usage store sums it.</summary>
public sealed record UsageSlice(
    string Provider,
    string Model,
    string Application,
    ulong Events,
    ulong InputTokens,
    ulong OutputTokens,
    ulong CacheReadTokens,
    ulong CacheWriteTokens,
    ulong ReasoningTokens,
    decimal CostUsd)
{
    public decimal Read(Meter meter) => meter switch
    {
        Meter.CostUsd => CostUsd,
        Meter.InputTokens => InputTokens,
        Meter.OutputTokens => OutputTokens,
        Meter.CacheReadTokens => CacheReadTokens,
        Meter.CacheWriteTokens => CacheWriteTokens,
        Meter.ReasoningTokens => ReasoningTokens,
        Meter.Events => Events,
        _ => throw new ArgumentOutOfRangeException(nameof(meter), meter, null),
    };
}

public enum LineKind
{
    BaseFee,
    Usage,
    Minimum,
    Adjustment,
}

/// <summary>One invoice line: <see cref="AmountUsd"/> is rounded once to the cent from <see cref="AmountUnroundedUsd"/>.</summary>
public sealed record InvoiceLine
{
    public required LineKind Kind { get; init; }
    public string? Charge { get; init; }
    public Meter? Meter { get; init; }
    public decimal? Quantity { get; init; }
    public decimal? IncludedUnits { get; init; }
    public IReadOnlyList<TierUse> Tiers { get; init; } = [];
    public decimal? UnitPriceUsd { get; init; }
    public required decimal AmountUnroundedUsd { get; init; }
    public decimal AmountUsd => Money.ToCents(AmountUnroundedUsd);
    public string Description { get; init; } = "";

    /// <summary>For an adjustment: the earlier period it corrects.</summary>
    public DateOnly? PeriodStart { get; init; }
    public DateOnly? PeriodEnd { get; init; }
}

/// <summary>A late correction of an issued period: what it should have cost minus what was billed for it so far.</summary>
public sealed record PeriodAdjustment(DateOnly PeriodStart, DateOnly PeriodEnd, string InvoiceNumber, decimal AmountUsd);

/// <summary>A credit grant as an invoice sees it: what is left of it.</summary>
public sealed record CreditBalance(Guid GrantId, decimal RemainingUsd, int Priority, DateTimeOffset EffectiveAt, DateTimeOffset? ExpiresAt);

public sealed record CreditUse(Guid GrantId, decimal AmountUsd);

/// <summary>An invoice's figures: lines, their rounded sum, credits drawn, what is due.</summary>
public sealed record InvoiceFigures(IReadOnlyList<InvoiceLine> Lines, IReadOnlyList<CreditUse> Credits)
{
    /// <summary>The sum of the rounded lines.</summary>
    public decimal SubtotalUsd => Lines.Sum(l => l.AmountUsd);
    public decimal CreditsUsd => Credits.Sum(c => c.AmountUsd);
    public decimal TotalUsd => SubtotalUsd - CreditsUsd;
    public decimal TotalUnroundedUsd => Lines.Sum(l => l.AmountUnroundedUsd) - CreditsUsd;

    /// <summary>What the period itself costs: every line but the adjustments of earlier periods (rounded, as billed).</summary>
    public decimal PeriodSubtotalUsd => Lines.Where(l => l.Kind != LineKind.Adjustment).Sum(l => l.AmountUsd);
}

/// <summary>Rates a period of a plan: base fee, one line per charge, the minimum's top-up, adjustments, then credits.</summary>
public static class InvoiceCalculator
{
    public static InvoiceFigures Compute(
        PlanDefinition plan, IReadOnlyList<UsageSlice> usage, IReadOnlyList<PeriodAdjustment> adjustments, IReadOnlyList<CreditBalance> credits,
        BillingPeriod period) =>
        Finish([.. PeriodLines(plan, usage), .. AdjustmentLines(adjustments)], credits, period);

    /// <summary>The invoice of these lines: credits drawn in order until the rounded subtotal is covered.</summary>
    public static InvoiceFigures Finish(IReadOnlyList<InvoiceLine> lines, IReadOnlyList<CreditBalance> credits, BillingPeriod period)
    {
        var due = lines.Sum(l => l.AmountUsd);
        var uses = new List<CreditUse>();
        foreach (var grant in Applicable(credits, period))
        {
            if (due <= 0)
            {
                break;
            }

            var amount = Math.Min(due, grant.RemainingUsd);
            if (amount > 0)
            {
                uses.Add(new CreditUse(grant.GrantId, amount));
                due -= amount;
            }
        }

        return new InvoiceFigures(lines, uses);
    }

    /// <summary>One line per earlier period whose billed amount was short (or over) what it cost.</summary>
    public static IEnumerable<InvoiceLine> AdjustmentLines(IEnumerable<PeriodAdjustment> adjustments) =>
        adjustments.Where(a => a.AmountUsd != 0).OrderBy(a => a.PeriodStart).Select(adjustment => new InvoiceLine
        {
            Kind = LineKind.Adjustment, AmountUnroundedUsd = adjustment.AmountUsd, PeriodStart = adjustment.PeriodStart, PeriodEnd = adjustment.PeriodEnd,
            Description = $"Usage that arrived after invoice {adjustment.InvoiceNumber} for {adjustment.PeriodStart:yyyy-MM-dd} to {adjustment.PeriodEnd:yyyy-MM-dd} was issued",
        });

    /// <summary>The lines a period costs on its own: base fee, charges, minimum.</summary>
    public static List<InvoiceLine> PeriodLines(PlanDefinition plan, IReadOnlyList<UsageSlice> usage)
    {
        var lines = new List<InvoiceLine>();
        if (plan.BaseFeeUsd is { } fee)
        {
            lines.Add(new InvoiceLine { Kind = LineKind.BaseFee, AmountUnroundedUsd = fee, Description = "Base fee" });
        }

        foreach (var charge in plan.Charges)
        {
            var quantity = usage.Where(u => charge.Filter.Matches(u.Provider, u.Model, u.Application)).Sum(u => u.Read(charge.Meter));
            var rated = ChargeRater.Rate(charge, quantity);
            lines.Add(new InvoiceLine
            {
                Kind = LineKind.Usage, Charge = charge.Key, Meter = charge.Meter, Quantity = rated.Quantity, IncludedUnits = rated.IncludedUnits,
                Tiers = rated.Tiers, UnitPriceUsd = rated.UnitPriceUsd, AmountUnroundedUsd = rated.AmountUsd,
                Description = $"{charge.Key} ({PlanJson.Name(charge.Meter)}, {PlanJson.Name(charge.PriceModel)})",
            });
        }

        var sum = lines.Sum(l => l.AmountUsd);
        if (plan.MinimumUsd is { } minimum && sum < minimum)
        {
            lines.Add(new InvoiceLine { Kind = LineKind.Minimum, AmountUnroundedUsd = minimum - sum, Description = $"Minimum of {Money.Cents(minimum)} per period" });
        }

        return lines;
    }

    /// <summary>Grants in effect during the period with something left, in drawdown order: priority (lowest first), then soonest expiry, then oldest.</summary>
    public static IEnumerable<CreditBalance> Applicable(IReadOnlyList<CreditBalance> credits, BillingPeriod period) =>
        credits
            .Where(c => c.RemainingUsd > 0 && c.EffectiveAt < period.End && (c.ExpiresAt is null || c.ExpiresAt > period.Start))
            .OrderBy(c => c.Priority)
            .ThenBy(c => c.ExpiresAt ?? DateTimeOffset.MaxValue)
            .ThenBy(c => c.EffectiveAt)
            .ThenBy(c => c.GrantId);
}
