using Tokage.Billing.Plans;

namespace Tokage.Billing.Rating;

/// <summary>How much of one tier a quantity used: units in <c>(From, UpTo]</c>.</summary>
public sealed record TierUse(decimal From, decimal? UpTo, decimal Units, decimal UnitPriceUsd, decimal FlatFeeUsd, decimal AmountUsd);

/// <summary>A charge rated for one period: the exact amount, before the line's rounding to the cent.</summary>
public sealed record RatedCharge(
    decimal Quantity,
    decimal IncludedUnits,
    decimal BillableUnits,
    IReadOnlyList<TierUse> Tiers,
    decimal? UnitPriceUsd,
    decimal AmountUsd);

/// <summary>
/// Prices one charge's quantity for one period. Included units come off first; tiers count the billable units
/// after them, <c>up_to</c> inclusive; a tier's flat fee is charged once the quantity reaches into it; zero
/// billable units cost nothing, flat fees included. Exact decimals throughout: the invoice rounds each line once.
/// </summary>
public static class ChargeRater
{
    public static RatedCharge Rate(Charge charge, decimal quantity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(quantity);
        var billable = Math.Max(0m, quantity - charge.IncludedUnits);
        return charge.PriceModel switch
        {
            PriceModel.PerUnit => Simple(charge, quantity, billable, charge.UnitPriceUsd!.Value, billable * charge.UnitPriceUsd.Value / charge.PerUnits),
            PriceModel.Package => Simple(charge, quantity, billable, charge.UnitPriceUsd!.Value,
                Math.Ceiling(billable / charge.PackageSize!.Value) * charge.UnitPriceUsd.Value),
            PriceModel.Markup => Simple(charge, quantity, billable, 1m + charge.MarkupPercent!.Value / 100m,
                billable * (1m + charge.MarkupPercent.Value / 100m)),
            PriceModel.Graduated => Graduated(charge, quantity, billable),
            PriceModel.Volume => Volume(charge, quantity, billable),
            _ => throw new ArgumentOutOfRangeException(nameof(charge), charge.PriceModel, "Unknown price model."),
        };
    }

    private static RatedCharge Simple(Charge charge, decimal quantity, decimal billable, decimal unitPrice, decimal amount) =>
        new(quantity, charge.IncludedUnits, billable, [], unitPrice, amount);

    private static RatedCharge Graduated(Charge charge, decimal quantity, decimal billable)
    {
        var uses = new List<TierUse>();
        var from = 0m;
        foreach (var tier in charge.Tiers)
        {
            if (billable <= from)
            {
                break;
            }

            var top = tier.UpTo is { } upTo ? Math.Min(billable, upTo) : billable;
            var units = top - from;
            uses.Add(new TierUse(from, tier.UpTo, units, tier.UnitPriceUsd, tier.FlatFeeUsd, units * tier.UnitPriceUsd / charge.PerUnits + tier.FlatFeeUsd));
            from = tier.UpTo ?? billable;
        }

        return new RatedCharge(quantity, charge.IncludedUnits, billable, uses, null, uses.Sum(u => u.AmountUsd));
    }

    private static RatedCharge Volume(Charge charge, decimal quantity, decimal billable)
    {
        if (billable == 0)
        {
            return new RatedCharge(quantity, charge.IncludedUnits, 0m, [], null, 0m);
        }

        var from = 0m;
        foreach (var tier in charge.Tiers)
        {
            if (tier.UpTo is null || billable <= tier.UpTo)
            {
                var use = new TierUse(from, tier.UpTo, billable, tier.UnitPriceUsd, tier.FlatFeeUsd, billable * tier.UnitPriceUsd / charge.PerUnits + tier.FlatFeeUsd);
                return new RatedCharge(quantity, charge.IncludedUnits, billable, [use], tier.UnitPriceUsd, use.AmountUsd);
            }

            from = tier.UpTo.Value;
        }

        throw new InvalidOperationException($"Charge '{charge.Key}' has no unbounded last tier.");
    }
}
