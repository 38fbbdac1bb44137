using System.Globalization;
using ClickHouse.Driver;

namespace Tokage.Analytics.Queries;

/// <summary>A customer id's usage of one provider, model and application over a range.</summary>
public sealed record CustomerUsageRow(string Customer, string Provider, string Model, string Application, UsageTotals Totals);

/// <summary>A customer's usage of one (provider, model, application) in one UTC hour.</summary>
public sealed record CustomerHourRow(DateTimeOffset Hour, CustomerUsageRow Usage);

/// <summary>A provider's metered usage of one model on one UTC day, every customer together.</summary>
public sealed record ProviderDayRow(DateOnly Day, string Model, UsageTotals Totals);

/// <summary>
/// What billing reads: usage per customer id (as events named it) and the dimensions plan charges filter on. From the
/// hourly rollup by customer when the range is whole hours (a period that starts at midnight in any whole-hour zone),
/// else from the raw rows (<c>FINAL</c>); the same numbers either way.
/// </summary>
public sealed class CustomerUsageQueries(ClickHouseClient client)
{
    /// <param name="customers">The customer ids to read; null for every one (unassigned usage, '', included).</param>
    public async Task<IReadOnlyList<CustomerUsageRow>> InRangeAsync(
        string tenantId, IReadOnlyCollection<string>? customers, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        var (scope, table) = Scope(tenantId, from, to, customers);
        var sql = $"SELECT customer, provider, model, application, {UsageQueries.Sums} FROM {table} {scope.WhereClause} GROUP BY customer, provider, model, application ORDER BY customer, provider, model, application";
        var rows = new List<CustomerUsageRow>();
        using var reader = await client.ExecuteReaderAsync(sql, scope.Parameters, cancellationToken: cancellationToken);
        while (reader.Read())
        {
            rows.Add(new CustomerUsageRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), Totals(reader, 4)));
        }

        return rows;
    }

    /// <summary>The customers' usage per UTC hour over whole hours <c>[from, to)</c>, by (provider, model, application): what Stripe meters are sent from.</summary>
    public async Task<IReadOnlyList<CustomerHourRow>> ByHourAsync(
        string tenantId, IReadOnlyCollection<string> customers, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        if (from.UtcTicks % TimeSpan.TicksPerHour != 0 || to.UtcTicks % TimeSpan.TicksPerHour != 0)
        {
            throw new ArgumentException("Hourly usage is read over whole hours.", nameof(from));
        }

        var (scope, _) = Scope(tenantId, from, to, customers);
        var sql = $"SELECT toUnixTimestamp(hour) AS at, customer, provider, model, application, {UsageQueries.Sums} FROM usage_hourly_customer {scope.WhereClause} " +
            "GROUP BY at, customer, provider, model, application ORDER BY at, customer";
        var rows = new List<CustomerHourRow>();
        using var reader = await client.ExecuteReaderAsync(sql, scope.Parameters, cancellationToken: cancellationToken);
        while (reader.Read())
        {
            rows.Add(new CustomerHourRow(DateTimeOffset.FromUnixTimeSeconds(Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture)),
                new CustomerUsageRow(reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), Totals(reader, 5))));
        }

        return rows;
    }

    /// <summary>One provider's usage per UTC day and model over <c>[from, to)</c>: what a reconciliation compares with the provider's bill.</summary>
    public async Task<IReadOnlyList<ProviderDayRow>> ByDayAndModelAsync(string tenantId, string provider, DateOnly from, DateOnly to, CancellationToken cancellationToken = default)
    {
        var (scope, _) = Scope(tenantId, new DateTimeOffset(from.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), new DateTimeOffset(to.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), null);
        scope.And($"provider = {scope.Bind(provider, "String")}");
        var sql = $"SELECT toString(toDate(hour, 'UTC')) AS day, model, {UsageQueries.Sums} FROM usage_hourly_customer {scope.WhereClause} GROUP BY day, model ORDER BY day, model";
        var rows = new List<ProviderDayRow>();
        using var reader = await client.ExecuteReaderAsync(sql, scope.Parameters, cancellationToken: cancellationToken);
        while (reader.Read())
        {
            rows.Add(new ProviderDayRow(DateOnly.ParseExact(reader.GetString(0), "yyyy-MM-dd", CultureInfo.InvariantCulture), reader.GetString(1), Totals(reader, 2)));
        }

        return rows;
    }

    /// <summary>The range's scope and the relation that answers it: the hourly rollup by customer for whole hours, else the raw rows with their adjustments.</summary>
    private static (TenantScopedQuery Scope, string Table) Scope(string tenantId, DateTimeOffset from, DateTimeOffset to, IReadOnlyCollection<string>? customers)
    {
        if (to <= from)
        {
            throw new ArgumentException($"The range is empty: 'to' ({to:O}) must be after 'from' ({from:O}).", nameof(to));
        }

        var scope = new TenantScopedQuery(tenantId);
        if (customers is not null)
        {
            scope.And($"customer IN {scope.Bind(customers.ToArray(), "Array(String)")}");
        }

        if (from.UtcTicks % TimeSpan.TicksPerHour == 0 && to.UtcTicks % TimeSpan.TicksPerHour == 0)
        {
            scope.And($"hour >= toDateTime({scope.Bind(from.ToUnixTimeSeconds(), "Int64")}, 'UTC')");
            scope.And($"hour < toDateTime({scope.Bind(to.ToUnixTimeSeconds(), "Int64")}, 'UTC')");
            return (scope, "usage_hourly_customer");
        }

        scope.And($"event_time >= fromUnixTimestamp64Milli({scope.Bind(from.ToUnixTimeMilliseconds(), "Int64")}, 'UTC')");
        scope.And($"event_time < fromUnixTimestamp64Milli({scope.Bind(to.ToUnixTimeMilliseconds(), "Int64")}, 'UTC')");
        return (scope, UsageQueries.RawWithAdjustments);
    }

    private static UsageTotals Totals(System.Data.Common.DbDataReader reader, int offset) => UsageQueries.ReadTotals(reader, offset);
}
