using Tokage.Analytics.Queries;

namespace Tokage.Analytics.Tests;

public sealed class BudgetSpendTests(UsageStoreFixture fixture) : IClassFixture<UsageStoreFixture>
{
    private static TimeZoneInfo Zone(string id) => TimeZoneInfo.FindSystemTimeZoneById(id);

    [Fact]
    public void WindowsAreCalendarPeriodsInTheZone()
    {
        var now = new DateTimeOffset(2026, 3, 31, 23, 30, 0, TimeSpan.Zero);
        Assert.Equal(new BudgetWindow(new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), new(2026, 4, 1, 0, 0, 0, TimeSpan.Zero)),
            BudgetWindow.Containing(BudgetPeriodKind.Monthly, TimeZoneInfo.Utc, now));

        // Already April 1st in Berlin (UTC+2 after the March change); March began at UTC+1.
        Assert.Equal(new BudgetWindow(new(2026, 3, 31, 22, 0, 0, TimeSpan.Zero), new(2026, 4, 30, 22, 0, 0, TimeSpan.Zero)),
            BudgetWindow.Containing(BudgetPeriodKind.Monthly, Zone("Europe/Berlin"), now));
        Assert.Equal(new BudgetWindow(new(2026, 3, 31, 22, 0, 0, TimeSpan.Zero), new(2026, 4, 1, 22, 0, 0, TimeSpan.Zero)),
            BudgetWindow.Containing(BudgetPeriodKind.Daily, Zone("Europe/Berlin"), now));

        // The day of a DST change is 23 hours long.
        var change = BudgetWindow.Containing(BudgetPeriodKind.Daily, Zone("Europe/Berlin"), new(2026, 3, 29, 12, 0, 0, TimeSpan.Zero));
        Assert.Equal(TimeSpan.FromHours(23), change.End - change.Start);

        var kolkata = BudgetWindow.Containing(BudgetPeriodKind.Daily, Zone("Asia/Kolkata"), now);
        Assert.Equal(new DateTimeOffset(2026, 3, 31, 18, 30, 0, TimeSpan.Zero), kolkata.Start);
    }

    [Fact]
    public async Task SpendIsTheScopesCostInTheWindowFromAnySource()
    {
        using var store = await fixture.NewStoreAsync();
        // November starts at 23:00 UTC in Berlin (UTC+1 again since October 25th).
        var start = new DateTime(2026, 10, 31, 23, 0, 0, DateTimeKind.Utc);
        await store.Writer.WriteEventsAsync(
        [
            Rows.Event("acme", "before", start.AddMinutes(-1), cost: 100m) with { Project = "checkout" },
            Rows.Event("acme", "in-1", start, cost: 1.25m) with { Project = "checkout" },
            Rows.Event("acme", "in-2", start.AddDays(3), cost: 2.5m) with { Project = "checkout", UserId = "u-1" },
            Rows.Event("acme", "other", start.AddDays(3), cost: 7m) with { Project = "search", UserId = "u-1" },
            Rows.Event("globex", "not-ours", start.AddDays(3), cost: 50m) with { Project = "checkout" },
        ]);

        var spend = new BudgetSpend(store.Queries);
        var berlinNovember = BudgetWindow.Containing(BudgetPeriodKind.Monthly, Zone("Europe/Berlin"), new(2026, 11, 10, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(start, berlinNovember.Start.UtcDateTime);
        Assert.Equal(3.75m, await spend.InWindowAsync("acme", UsageDimension.Project, "checkout", berlinNovember));
        Assert.Equal(10.75m, await spend.InWindowAsync("acme", null, null, berlinNovember));
        Assert.Equal(9.5m, await spend.InWindowAsync("acme", UsageDimension.User, "u-1", berlinNovember));
        Assert.Equal(0m, await spend.InWindowAsync("acme", UsageDimension.Team, "nobody", berlinNovember));

        // A half-hour zone's bounds are answered from the raw rows, still exactly.
        var kolkata = BudgetWindow.Containing(BudgetPeriodKind.Monthly, Zone("Asia/Kolkata"), new(2026, 11, 10, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(110.75m, await spend.InWindowAsync("acme", null, null, kolkata));
    }
}
