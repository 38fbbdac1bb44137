namespace Tokage.Billing.Invoices;

/// <summary>One billing period: local dates <c>[StartDate, EndDate)</c> in the customer's zone, and the same as UTC instants.</summary>
public sealed record BillingPeriod(DateOnly StartDate, DateOnly EndDate, DateTimeOffset Start, DateTimeOffset End);

/// <summary>
/// Monthly periods of a subscription: each starts at local midnight of the anchor day (the month's last day when it
/// is shorter) in the customer's zone. The first runs from the start date to the first anchor after it, so a
/// subscription that starts between anchors has a short first period (its base fee is not prorated).
/// </summary>
public sealed record BillingSchedule(DateOnly StartDate, int AnchorDay, TimeZoneInfo Zone, DateOnly? EndDate = null)
{
    public IEnumerable<BillingPeriod> Periods()
    {
        var start = StartDate;
        while (EndDate is null || start < EndDate)
        {
            var end = NextAnchor(start);
            if (EndDate is { } last && end > last)
            {
                end = last;
            }

            yield return new BillingPeriod(start, end, LocalMidnight(start, Zone), LocalMidnight(end, Zone));
            start = end;
        }
    }

    /// <summary>The period that contains <paramref name="instant"/>, or null before the start (or after the end).</summary>
    public BillingPeriod? Containing(DateTimeOffset instant) =>
        Periods().TakeWhile(p => p.Start <= instant).LastOrDefault(p => instant < p.End);

    /// <summary>Every period that has ended by <paramref name="instant"/>, oldest first.</summary>
    public IEnumerable<BillingPeriod> EndedBy(DateTimeOffset instant) => Periods().TakeWhile(p => p.End <= instant);

    private DateOnly NextAnchor(DateOnly after)
    {
        var candidate = Anchor(after.Year, after.Month);
        return candidate > after ? candidate : Anchor(after.AddMonths(1).Year, after.AddMonths(1).Month);
    }

    private DateOnly Anchor(int year, int month) => new(year, month, Math.Min(AnchorDay, DateTime.DaysInMonth(year, month)));

    /// <summary>Local midnight as a UTC instant; a midnight a DST change skips starts at the first instant after the gap, a repeated one at the first.</summary>
    public static DateTimeOffset LocalMidnight(DateOnly date, TimeZoneInfo zone)
    {
        var local = date.ToDateTime(TimeOnly.MinValue);
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(15);
        }

        var offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }
}
