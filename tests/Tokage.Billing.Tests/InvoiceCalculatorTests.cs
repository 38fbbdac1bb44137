using Tokage.Billing.Invoices;
using Tokage.Billing.Plans;

namespace Tokage.Billing.Tests;

public sealed class InvoiceCalculatorTests
{
    private static readonly BillingPeriod December = new BillingSchedule(new DateOnly(2026, 12, 1), 1, TimeZoneInfo.Utc).Periods().First();

    private static UsageSlice Slice(string model, ulong input, ulong output, decimal cost, string application = "app", ulong events = 1) =>
        new("openai", model, application, events, input, output, 0, 0, 0, cost);

    [Fact]
    public void BaseFeeChargesMinimumAndCreditsMakeTheTotal()
    {
        var plan = new PlanDefinition
        {
            BaseFeeUsd = 20m, MinimumUsd = 50m,
            Charges =
            [
                new Charge { Key = "gpt-4o input", Meter = Meter.InputTokens, Filter = new ChargeFilter(Model: "gpt-4o"), PriceModel = PriceModel.PerUnit, UnitPriceUsd = 2.5m, PerUnits = 1_000_000m },
                new Charge { Key = "cost", Meter = Meter.CostUsd, PriceModel = PriceModel.Markup, MarkupPercent = 10m },
            ],
        };
        var usage = new[] { Slice("gpt-4o", 2_000_000, 10, 3.333m), Slice("gpt-4o-mini", 5_000_000, 10, 1.111m) };
        var soon = new DateTimeOffset(2027, 1, 15, 0, 0, 0, TimeSpan.Zero);
        var credits = new[]
        {
            new CreditBalance(Guid.Parse("00000000-0000-0000-0000-00000000000a"), 100m, 0, December.Start.AddDays(-30), null),
            new CreditBalance(Guid.Parse("00000000-0000-0000-0000-00000000000b"), 30m, 0, December.Start.AddDays(-30), soon),
            new CreditBalance(Guid.Parse("00000000-0000-0000-0000-00000000000c"), 500m, 1, December.Start.AddDays(-30), null),
        };

        var invoice = InvoiceCalculator.Compute(plan, usage, [], credits, December);

        // Base 20; gpt-4o input 2M × 2.5/M = 5 (the mini's tokens are filtered out); markup (3.333 + 1.111) × 1.1 = 4.8884 → 4.89.
        Assert.Equal([20m, 5m, 4.89m, 20.11m], invoice.Lines.Select(l => l.AmountUsd));
        Assert.Equal([LineKind.BaseFee, LineKind.Usage, LineKind.Usage, LineKind.Minimum], invoice.Lines.Select(l => l.Kind));
        Assert.Equal(2_000_000m, invoice.Lines[1].Quantity);
        Assert.Equal(50m, invoice.SubtotalUsd);

        // The grant that expires first goes first among equal priorities; priority 1 is not reached.
        Assert.Equal([("b", 30m), ("a", 20m)], invoice.Credits.Select(c => (c.GrantId.ToString()[^1..], c.AmountUsd)));
        Assert.Equal(0m, invoice.TotalUsd);
        Assert.Equal(20m + 5m + 4.8884m + 20.11m - 50m, invoice.TotalUnroundedUsd);
    }

    [Fact]
    public void EachLineIsRoundedOnceAndTheTotalIsTheSumOfTheRoundedLines()
    {
        var plan = new PlanDefinition
        {
            Charges =
            [
                new Charge { Key = "a", Meter = Meter.Events, PriceModel = PriceModel.PerUnit, UnitPriceUsd = 0.001m },
                new Charge { Key = "b", Meter = Meter.Events, PriceModel = PriceModel.PerUnit, UnitPriceUsd = 0.001m },
                new Charge { Key = "c", Meter = Meter.Events, PriceModel = PriceModel.PerUnit, UnitPriceUsd = 0.001m },
            ],
        };

        // 5 events × 0.001 = 0.005 per line → 0.01 each (half away from zero): 0.03, though the exact sum is 0.015.
        var invoice = InvoiceCalculator.Compute(plan, [Slice("m", 0, 0, 0m, events: 5)], [], [], December);
        Assert.All(invoice.Lines, l => Assert.Equal(0.01m, l.AmountUsd));
        Assert.Equal(0.03m, invoice.TotalUsd);
        Assert.Equal(0.015m, invoice.TotalUnroundedUsd);
    }

    [Fact]
    public void AnAdjustmentLineNamesThePeriodItCorrectsAndIsNotPartOfThisPeriodsOwnSubtotal()
    {
        var plan = new PlanDefinition { BaseFeeUsd = 10m };
        var adjustment = new PeriodAdjustment(new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1), "7", 1.234m);
        var invoice = InvoiceCalculator.Compute(plan, [], [adjustment], [], December);

        var line = Assert.Single(invoice.Lines, l => l.Kind == LineKind.Adjustment);
        Assert.Equal((new DateOnly(2026, 11, 1), 1.23m), (line.PeriodStart!.Value, line.AmountUsd));
        Assert.Contains("invoice 7", line.Description);
        Assert.Equal(11.23m, invoice.SubtotalUsd);
        Assert.Equal(10m, invoice.PeriodSubtotalUsd);
    }

    [Fact]
    public void CreditsOutsideThePeriodOrSpentAreNotDrawn()
    {
        var plan = new PlanDefinition { BaseFeeUsd = 10m };
        var credits = new[]
        {
            new CreditBalance(Guid.NewGuid(), 5m, 0, December.End, null), // not yet effective
            new CreditBalance(Guid.NewGuid(), 5m, 0, December.Start.AddDays(-60), December.Start), // expired as the period began
            new CreditBalance(Guid.NewGuid(), 0m, 0, December.Start, null), // spent
            new CreditBalance(Guid.Parse("00000000-0000-0000-0000-0000000000d1"), 4m, 3, December.Start.AddDays(10), null),
        };

        var invoice = InvoiceCalculator.Compute(plan, [], [], credits, December);
        Assert.Equal(4m, Assert.Single(invoice.Credits).AmountUsd);
        Assert.Equal(6m, invoice.TotalUsd);
    }

    /// <summary>Property: however a period's usage is split (across days, hours, rows of a rollup), the invoice is the same.</summary>
    [Fact]
    public void SplittingUsageAcrossDaysNeverChangesAPeriodsTotal()
    {
        var random = new Random(20261203);
        for (var round = 0; round < 300; round++)
        {
            var plan = RandomPlan(random);
            var whole = Enumerable.Range(0, random.Next(1, 5))
                .Select(_ => new UsageSlice("openai", random.Next(2) == 0 ? "gpt-4o" : "gpt-4o-mini", "app", (ulong)random.Next(0, 5000),
                    (ulong)random.Next(0, 3_000_000), (ulong)random.Next(0, 500_000), (ulong)random.Next(0, 100_000), (ulong)random.Next(0, 100_000),
                    (ulong)random.Next(0, 10_000), random.Next(0, 10_000_000) / 1_000_000m))
                .ToList();
            var split = whole.SelectMany(slice => Split(slice, random.Next(1, 31), random)).OrderBy(_ => random.Next()).ToList();

            var expected = InvoiceCalculator.Compute(plan, whole, [], [], December);
            var actual = InvoiceCalculator.Compute(plan, split, [], [], December);
            Assert.Equal(expected.TotalUnroundedUsd, actual.TotalUnroundedUsd);
            Assert.Equal(expected.TotalUsd, actual.TotalUsd);
        }
    }

    private static IEnumerable<UsageSlice> Split(UsageSlice slice, int days, Random random)
    {
        ulong[] Parts(ulong total)
        {
            var parts = new ulong[days];
            var left = total;
            for (var i = 0; i < days - 1; i++)
            {
                parts[i] = (ulong)(random.NextDouble() * left);
                left -= parts[i];
            }

            parts[^1] = left;
            return parts;
        }

        var micros = (ulong)(slice.CostUsd * 1_000_000m);
        var (events, input, output, reads, writes, reasoning, cost) =
            (Parts(slice.Events), Parts(slice.InputTokens), Parts(slice.OutputTokens), Parts(slice.CacheReadTokens), Parts(slice.CacheWriteTokens), Parts(slice.ReasoningTokens), Parts(micros));
        for (var i = 0; i < days; i++)
        {
            yield return slice with
            {
                Events = events[i], InputTokens = input[i], OutputTokens = output[i], CacheReadTokens = reads[i], CacheWriteTokens = writes[i],
                ReasoningTokens = reasoning[i], CostUsd = cost[i] / 1_000_000m,
            };
        }
    }

    private static PlanDefinition RandomPlan(Random random)
    {
        var meters = Enum.GetValues<Meter>();
        var charges = new List<Charge>();
        for (var i = 0; i < random.Next(1, 5); i++)
        {
            var model = (PriceModel)random.Next(0, 5);
            var meter = model == PriceModel.Markup ? Meter.CostUsd : meters[random.Next(meters.Length)];
            var first = random.Next(1, 1_000_000);
            charges.Add(new Charge
            {
                Key = $"c{i}", Meter = meter, PriceModel = model,
                Filter = random.Next(3) == 0 ? new ChargeFilter(Model: "gpt-4o") : ChargeFilter.None,
                UnitPriceUsd = random.Next(1, 100_000) / 10_000m, PerUnits = random.Next(2) == 0 ? 1m : 1_000_000m,
                IncludedUnits = random.Next(3) == 0 ? random.Next(0, 100_000) : 0m,
                PackageSize = random.Next(1, 10_000), MarkupPercent = random.Next(0, 300),
                Tiers = [new PriceTier(first, random.Next(1, 1000) / 1000m, random.Next(0, 3)), new PriceTier(first * 3m, random.Next(1, 1000) / 1000m), new PriceTier(null, random.Next(1, 1000) / 1000m)],
            });
        }

        return new PlanDefinition { BaseFeeUsd = random.Next(2) == 0 ? null : 9.99m, MinimumUsd = random.Next(2) == 0 ? null : 25m, Charges = charges };
    }
}
