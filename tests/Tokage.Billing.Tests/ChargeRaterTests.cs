using Tokage.Billing.Plans;
using Tokage.Billing.Rating;

namespace Tokage.Billing.Tests;

/// <summary>Every price model by hand-computed cases, at and around every tier boundary.</summary>
public sealed class ChargeRaterTests
{
    private static readonly PriceTier[] Tiers =
    [
        new(1000m, 0.10m),
        new(5000m, 0.08m, FlatFeeUsd: 5m),
        new(null, 0.05m),
    ];

    private static Charge Make(PriceModel model, Meter meter = Meter.InputTokens) => new()
    {
        Key = "c", Meter = meter, PriceModel = model,
    };

    [Theory]
    [InlineData("0", "0")]
    [InlineData("999999", "0")]
    [InlineData("1000000", "0")]
    [InlineData("1000001", "0.000003")]
    [InlineData("2500000", "4.5")]
    public void PerUnitPricesPerMillionAfterTheIncludedUnits(string quantity, string amount)
    {
        var charge = Make(PriceModel.PerUnit) with { UnitPriceUsd = 3m, PerUnits = 1_000_000m, IncludedUnits = 1_000_000m };
        var rated = ChargeRater.Rate(charge, decimal.Parse(quantity));
        Assert.Equal(decimal.Parse(amount), rated.AmountUsd);
        Assert.Equal(Math.Max(0, decimal.Parse(quantity) - 1_000_000m), rated.BillableUnits);
    }

    [Theory]
    [InlineData("0", "0", 0)]
    [InlineData("1", "0.10", 1)]
    [InlineData("999", "99.90", 1)]
    [InlineData("1000", "100.00", 1)]
    [InlineData("1001", "105.08", 2)] // 1000 × 0.10 + 1 × 0.08 + the second tier's flat 5
    [InlineData("4999", "424.92", 2)]
    [InlineData("5000", "425.00", 2)] // 100 + 4000 × 0.08 + 5
    [InlineData("5001", "425.05", 3)]
    [InlineData("10000", "675.00", 3)] // 425 + 5000 × 0.05
    public void GraduatedPricesEachTiersUnitsAtItsOwnPrice(string quantity, string amount, int tiersUsed)
    {
        var rated = ChargeRater.Rate(Make(PriceModel.Graduated) with { Tiers = Tiers }, decimal.Parse(quantity));
        Assert.Equal(decimal.Parse(amount), rated.AmountUsd);
        Assert.Equal(tiersUsed, rated.Tiers.Count);
        Assert.Equal(decimal.Parse(quantity), rated.Tiers.Sum(t => t.Units));
    }

    [Theory]
    [InlineData("0", "0")]
    [InlineData("1", "0.10")]
    [InlineData("1000", "100.00")]
    [InlineData("1001", "85.08")] // every unit at the second tier: 1001 × 0.08 + 5
    [InlineData("5000", "405.00")]
    [InlineData("5001", "250.05")] // every unit at the third tier
    public void VolumePricesEveryUnitAtTheTierTheWholeQuantityFallsIn(string quantity, string amount)
    {
        var rated = ChargeRater.Rate(Make(PriceModel.Volume) with { Tiers = Tiers }, decimal.Parse(quantity));
        Assert.Equal(decimal.Parse(amount), rated.AmountUsd);
    }

    [Fact]
    public void TiersCountTheUnitsLeftAfterTheIncludedOnesAndPricesPerUnitsDivide()
    {
        var charge = Make(PriceModel.Graduated) with
        {
            IncludedUnits = 500m, PerUnits = 1000m,
            Tiers = [new(1000m, 2m), new(null, 1m)],
        };

        // 3,500 − 500 included = 3,000 billable: 1,000 at 2 per thousand + 2,000 at 1 per thousand.
        var rated = ChargeRater.Rate(charge, 3500m);
        Assert.Equal(3000m, rated.BillableUnits);
        Assert.Equal(4m, rated.AmountUsd);
    }

    [Theory]
    [InlineData("0", "0")]
    [InlineData("500", "0")] // all included
    [InlineData("501", "2")] // a started package is a whole one
    [InlineData("1500", "2")]
    [InlineData("1501", "4")]
    [InlineData("2500", "4")]
    [InlineData("2501", "6")]
    public void PackageChargesEveryStartedPackage(string quantity, string amount)
    {
        var charge = Make(PriceModel.Package, Meter.Events) with { UnitPriceUsd = 2m, PackageSize = 1000m, IncludedUnits = 500m };
        Assert.Equal(decimal.Parse(amount), ChargeRater.Rate(charge, decimal.Parse(quantity)).AmountUsd);
    }

    [Theory]
    [InlineData("10.123456", "0", "12.1481472")]
    [InlineData("10", "1", "10.8")] // (10 − 1 included dollar) × 1.2
    [InlineData("0.5", "1", "0")]
    public void MarkupMultipliesTheCost(string cost, string included, string amount)
    {
        var charge = Make(PriceModel.Markup, Meter.CostUsd) with { MarkupPercent = 20m, IncludedUnits = decimal.Parse(included) };
        var rated = ChargeRater.Rate(charge, decimal.Parse(cost));
        Assert.Equal(decimal.Parse(amount), rated.AmountUsd);
        Assert.Equal(1.2m, rated.UnitPriceUsd);
    }

    [Fact]
    public void PricesStayExactAtTheDecimalsALineRoundsOnlyOnce()
    {
        // 1 token at $0.000001 per token, three times over: each is exact, not rounded to zero along the way.
        var charge = Make(PriceModel.PerUnit) with { UnitPriceUsd = 0.000001m };
        Assert.Equal(0.000003m, ChargeRater.Rate(charge, 3m).AmountUsd);
        Assert.Equal(0.01m, Money.ToCents(0.005m));
        Assert.Equal(-0.01m, Money.ToCents(-0.005m));
        Assert.Equal(0.00m, Money.ToCents(0.004999m));
    }
}
