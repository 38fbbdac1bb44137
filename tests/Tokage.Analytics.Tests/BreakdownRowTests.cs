using Tokage.Analytics.Queries;

namespace Tokage.Analytics.Tests;

public sealed class BreakdownRowTests
{
    private static readonly UsageTotals Totals = new(3, 0, 300, 0, 0, 0, 30, 0, 0.0123m);

    [Fact]
    public void RowsWithTheSameKeysAndTotalsAreEqualWhateverTheKeysOrder()
    {
        var a = new BreakdownRow(new Dictionary<UsageDimension, string> { [UsageDimension.Model] = "gpt-4o", [UsageDimension.Team] = "cx" }, Totals);
        var b = new BreakdownRow(new Dictionary<UsageDimension, string> { [UsageDimension.Team] = "cx", [UsageDimension.Model] = "gpt-4o" }, Totals);

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Fact]
    public void AnyKeyOrTotalThatDiffersMakesRowsUnequal()
    {
        var keys = new Dictionary<UsageDimension, string> { [UsageDimension.Model] = "gpt-4o" };
        var row = new BreakdownRow(keys, Totals);

        Assert.NotEqual(row, new BreakdownRow(new Dictionary<UsageDimension, string> { [UsageDimension.Model] = "gpt-4o-mini" }, Totals));
        Assert.NotEqual(row, new BreakdownRow(new Dictionary<UsageDimension, string> { [UsageDimension.Model] = "gpt-4o", [UsageDimension.Team] = "cx" }, Totals));
        Assert.NotEqual(row, new BreakdownRow(keys, Totals with { CostUsd = 0.0124m }));
    }
}
