using Tokage.Billing.Invoices;

namespace Tokage.Billing.Tests;

public sealed class BillingScheduleTests
{
    [Fact]
    public void AStartBetweenAnchorsGivesAShortFirstPeriodThenWholeMonths()
    {
        var schedule = new BillingSchedule(new DateOnly(2026, 11, 20), 1, TimeZoneInfo.Utc);
        var periods = schedule.Periods().Take(3).Select(p => (p.StartDate, p.EndDate)).ToList();
        Assert.Equal(
            [(new DateOnly(2026, 11, 20), new DateOnly(2026, 12, 1)), (new DateOnly(2026, 12, 1), new DateOnly(2027, 1, 1)), (new DateOnly(2027, 1, 1), new DateOnly(2027, 2, 1))],
            periods);
    }

    [Fact]
    public void AnAnchorOnThe31stFallsOnTheLastDayOfShorterMonths()
    {
        var schedule = new BillingSchedule(new DateOnly(2027, 1, 31), 31, TimeZoneInfo.Utc);
        var ends = schedule.Periods().Take(4).Select(p => p.EndDate).ToList();
        Assert.Equal([new DateOnly(2027, 2, 28), new DateOnly(2027, 3, 31), new DateOnly(2027, 4, 30), new DateOnly(2027, 5, 31)], ends);
    }

    [Fact]
    public void PeriodsStartAtLocalMidnightInTheCustomersZoneAcrossDaylightSaving()
    {
        var newYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        var schedule = new BillingSchedule(new DateOnly(2027, 3, 1), 1, newYork);
        var march = schedule.Periods().First();

        // EST (−5) at the start, EDT (−4) at the end: the month is 31 days less one hour long.
        Assert.Equal(new DateTimeOffset(2027, 3, 1, 5, 0, 0, TimeSpan.Zero), march.Start);
        Assert.Equal(new DateTimeOffset(2027, 4, 1, 4, 0, 0, TimeSpan.Zero), march.End);
        Assert.Equal(march, schedule.Containing(new DateTimeOffset(2027, 3, 31, 23, 0, 0, TimeSpan.FromHours(-4))));
        Assert.Null(schedule.Containing(new DateTimeOffset(2027, 3, 1, 4, 59, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void AnEndDateCutsTheLastPeriod()
    {
        var schedule = new BillingSchedule(new DateOnly(2026, 10, 1), 1, TimeZoneInfo.Utc, EndDate: new DateOnly(2026, 11, 15));
        Assert.Equal([new DateOnly(2026, 11, 1), new DateOnly(2026, 11, 15)], schedule.Periods().Select(p => p.EndDate));
        Assert.Equal(2, schedule.EndedBy(new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero)).Count());
    }
}
