namespace Tokage.Analytics.Queries;

public enum BudgetPeriodKind
{
    Daily,
    Monthly,
}

/// <summary>A calendar period in a zone, as UTC instants: <c>[Start, End)</c>.</summary>
public readonly record struct BudgetWindow(DateTimeOffset Start, DateTimeOffset End)
{
    /// <summary>The day or month that contains <paramref name="now"/> in <paramref name="zone"/>.</summary>
    public static BudgetWindow Containing(BudgetPeriodKind period, TimeZoneInfo zone, DateTimeOffset now)
    {
        var local = TimeZoneInfo.ConvertTime(now, zone).DateTime;
        var (start, end) = period == BudgetPeriodKind.Daily
            ? (local.Date, local.Date.AddDays(1))
            : (new DateTime(local.Year, local.Month, 1), new DateTime(local.Year, local.Month, 1).AddMonths(1));
        return new(AtLocal(start, zone), AtLocal(end, zone));
    }

    // A local midnight that a DST change skips starts at the first instant after the gap; one it repeats, at the first.
    private static DateTimeOffset AtLocal(DateTime local, TimeZoneInfo zone)
    {
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(15);
        }

        var offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }
}

/// <summary>
/// A budget's spend in a period: the breakdown's total (charged plus adjustments) over <c>[Start, End)</c>, filtered to the scope, so it
/// reads the daily or hourly rollup whenever the period's bounds allow an exact answer (UTC or whole-hour
/// zones) and the raw rows otherwise. Reusable by anything that checks entitlements against budgets.
/// </summary>
public sealed class BudgetSpend(UsageQueries queries)
{
    /// <param name="dimension">The scope's dimension (project, application, team or user); null for the whole tenant.</param>
    public async Task<decimal> InWindowAsync(string tenantId, UsageDimension? dimension, string? value, BudgetWindow window, CancellationToken cancellationToken = default)
    {
        var filters = new Dictionary<UsageDimension, string>();
        if (dimension is { } d)
        {
            filters[d] = value ?? throw new ArgumentNullException(nameof(value), "A scoped budget needs its dimension's value.");
        }

        var result = await queries.BreakdownAsync(tenantId, new BreakdownQuery { From = window.Start, To = window.End, Filters = filters }, cancellationToken);
        // What the usage costs now: charged, plus what repricings (a corrected price) added or took away since.
        return (result.Totals.CostUsd ?? 0m) + result.Totals.AdjustmentsUsd;
    }
}

/// <summary>A budget's scope kind as the control plane stores it (<c>Tenant</c>, <c>Project</c>, …) to the dimension its spend is filtered on.</summary>
public static class BudgetScope
{
    /// <summary>Null for the tenant scope (all its usage).</summary>
    public static UsageDimension? Dimension(string kind) => kind switch
    {
        "Project" => UsageDimension.Project,
        "Application" => UsageDimension.Application,
        "Team" => UsageDimension.Team,
        "User" => UsageDimension.User,
        _ => null,
    };
}
