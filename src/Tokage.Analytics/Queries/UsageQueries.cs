using System.Globalization;
using System.Text;
using ClickHouse.Driver;

namespace Tokage.Analytics.Queries;

/// <summary>
/// Tenant-scoped reads of the usage store. A breakdown reads a daily or the hourly rollup whenever its range
/// and grouping allow an exact answer from it, and the raw rows (<c>FINAL</c>, so a replayed row counts
/// once) otherwise; both give the same numbers.
/// </summary>
/// <param name="personal">Maps a user a person names to the form the store keeps (pseudonymised e-mail addresses and phone numbers).</param>
public sealed class UsageQueries(ClickHouseClient client, Privacy.PersonalValues? personal = null)
{
    // sum(cost_usd)'s place among the sums (1-based): the order of the most expensive groups first.
    private const int CostSumPosition = 9;

    private static readonly string ModalityColumns = string.Join(", ", ModalityTokens.ColumnNames);

    /// <summary>
    /// The raw rows with the adjustments repricings made to them, in the rollups' shape (<c>events</c>,
    /// <c>unpriced_events</c>, …, <c>adjustments_usd</c>, the modality counts and units), so <see cref="Sums"/> reads raw
    /// rows and rollups alike.
    /// </summary>
    internal static readonly string RawWithAdjustments =
        "(SELECT tenant_id, event_time, provider, model, application, project, user_id, team, environment, customer, 1 AS events, " +
        "toUInt64(NOT priced) AS unpriced_events, input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, " +
        $"reasoning_tokens, cost_usd, toDecimal128(0, 18) AS adjustments_usd, {ModalityColumns}, images, audio_seconds, web_search_queries FROM usage_events FINAL " +
        "UNION ALL SELECT tenant_id, event_time, provider, model, application, project, user_id, team, environment, customer, 0, 0, 0, 0, 0, 0, 0, 0, " +
        "toDecimal128(0, 18), adjustment_usd, 0, 0, 0, 0, 0, 0, 0, 0, 0, toDecimal64(0, 6), 0 FROM usage_adjustments FINAL)";

    /// <summary>The totals <see cref="ReadTotals"/> reads, over a rollup or <see cref="RawWithAdjustments"/>.</summary>
    internal static readonly string Sums = "sum(events), sum(unpriced_events), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens), " +
        "sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(cost_usd), sum(adjustments_usd), " +
        string.Join(", ", ModalityTokens.ColumnNames.Select(c => $"sum({c})")) + ", sum(images), sum(audio_seconds), sum(web_search_queries)";

    public async Task<BreakdownResult> BreakdownAsync(string tenantId, BreakdownQuery query, CancellationToken cancellationToken = default)
    {
        if (query.To <= query.From)
        {
            throw new ArgumentException($"The range is empty: 'to' ({query.To:O}) must be after 'from' ({query.From:O}).", nameof(query));
        }

        if (query.Filters.Keys.Where(IsTime).ToList() is [var timeFilter, ..])
        {
            throw new ArgumentException($"'{timeFilter}' cannot be a filter; use the range.", nameof(query));
        }

        // A user is named as the application sent it; the store may keep it pseudonymised.
        if (personal is not null && query.Filters.TryGetValue(UsageDimension.User, out var user))
        {
            query = query with { Filters = new Dictionary<UsageDimension, string>(query.Filters) { [UsageDimension.User] = personal.StoredForm(tenantId, user) } };
        }

        var source = query.Source == UsageSource.Auto ? ChooseSource(query) : query.Source;
        if (source != UsageSource.Raw && !CanAnswer(source, query))
        {
            throw new ArgumentException($"The {source} rollup cannot answer this range and grouping exactly.", nameof(query));
        }

        var (sql, scope) = BuildBreakdown(tenantId, query, source);
        var rows = new List<BreakdownRow>();
        using (var reader = await client.ExecuteReaderAsync(sql, scope.Parameters, cancellationToken: cancellationToken))
        {
            while (reader.Read())
            {
                var keys = new Dictionary<UsageDimension, string>();
                for (var i = 0; i < query.GroupBy.Count; i++)
                {
                    keys[query.GroupBy[i]] = FormatKey(query.GroupBy[i], reader.GetValue(i), query.TimeZone);
                }

                var totals = ReadTotals(reader, query.GroupBy.Count);
                if (totals.Events > 0 || totals.AdjustmentsUsd != 0m)
                {
                    rows.Add(new BreakdownRow(keys, totals));
                }
            }
        }

        var sum = rows.Aggregate(UsageTotals.Zero, (total, row) => total.Add(row.Totals));
        return new BreakdownResult(rows, sum, source);
    }

    /// <summary>The coarsest table that answers exactly: daily without users, daily by user alone, daily, hourly, hourly by customer, then raw rows.</summary>
    public static UsageSource ChooseSource(BreakdownQuery query) =>
        CanAnswer(UsageSource.DailyCompact, query) ? UsageSource.DailyCompact
        : CanAnswer(UsageSource.DailyUser, query) ? UsageSource.DailyUser
        : CanAnswer(UsageSource.Daily, query) ? UsageSource.Daily
        : CanAnswer(UsageSource.Hourly, query) ? UsageSource.Hourly
        : CanAnswer(UsageSource.HourlyCustomer, query) ? UsageSource.HourlyCustomer
        : UsageSource.Raw;

    private static readonly HashSet<UsageDimension> HourlyCustomerDimensions =
        [UsageDimension.Customer, UsageDimension.Provider, UsageDimension.Model, UsageDimension.Application, UsageDimension.Day, UsageDimension.Hour];

    private static bool CanAnswer(UsageSource source, BreakdownQuery query)
    {
        var groupsByTime = query.GroupBy.Any(IsTime);
        var utc = query.TimeZone.Id is "UTC" or "Etc/UTC" || query.TimeZone == TimeZoneInfo.Utc;
        var byCustomer = query.GroupBy.Contains(UsageDimension.Customer) || query.Filters.ContainsKey(UsageDimension.Customer);
        if (byCustomer && source is not (UsageSource.Raw or UsageSource.HourlyCustomer))
        {
            return false;
        }

        return source switch
        {
            UsageSource.HourlyCustomer => CanAnswer(UsageSource.Hourly, query with { GroupBy = [], Filters = new Dictionary<UsageDimension, string>() })
                && (!groupsByTime || utc || HasWholeHourOffsets(query.TimeZone, query.From, query.To))
                && query.GroupBy.All(HourlyCustomerDimensions.Contains) && query.Filters.Keys.All(HourlyCustomerDimensions.Contains),
            UsageSource.DailyCompact => CanAnswer(UsageSource.Daily, query)
                && !query.GroupBy.Contains(UsageDimension.User) && !query.Filters.ContainsKey(UsageDimension.User),
            UsageSource.DailyUser => CanAnswer(UsageSource.Daily, query)
                && query.GroupBy.All(d => d is UsageDimension.User or UsageDimension.Day) && query.Filters.Keys.All(d => d == UsageDimension.User),

            // UTC days: whole-day ranges, no hours, and days only when they are UTC days.
            UsageSource.Daily => IsAligned(query.From, TimeSpan.TicksPerDay) && IsAligned(query.To, TimeSpan.TicksPerDay)
                && !query.GroupBy.Contains(UsageDimension.Hour) && (utc || !query.GroupBy.Contains(UsageDimension.Day)),
            // UTC hours map onto the zone's hours and days when its offsets are whole hours.
            UsageSource.Hourly => IsAligned(query.From, TimeSpan.TicksPerHour) && IsAligned(query.To, TimeSpan.TicksPerHour)
                && (!groupsByTime || utc || HasWholeHourOffsets(query.TimeZone, query.From, query.To)),
            _ => true,
        };
    }

    private static (string Sql, TenantScopedQuery Scope) BuildBreakdown(string tenantId, BreakdownQuery query, UsageSource source)
    {
        var scope = new TenantScopedQuery(tenantId);
        var fromSeconds = query.From.ToUnixTimeSeconds();
        var toSeconds = query.To.ToUnixTimeSeconds();
        string table, time;
        switch (source)
        {
            case UsageSource.Raw:
                (table, time) = (RawWithAdjustments, "event_time");
                scope.And($"event_time >= fromUnixTimestamp64Milli({scope.Bind(query.From.ToUnixTimeMilliseconds(), "Int64")}, 'UTC')");
                scope.And($"event_time < fromUnixTimestamp64Milli({scope.Bind(query.To.ToUnixTimeMilliseconds(), "Int64")}, 'UTC')");
                break;
            case UsageSource.Hourly or UsageSource.HourlyCustomer:
                (table, time) = (source == UsageSource.Hourly ? "usage_hourly" : "usage_hourly_customer", "hour");
                scope.And($"hour >= toDateTime({scope.Bind(fromSeconds, "Int64")}, 'UTC')");
                scope.And($"hour < toDateTime({scope.Bind(toSeconds, "Int64")}, 'UTC')");
                break;
            default:
                (table, time) = (source switch { UsageSource.DailyCompact => "usage_daily_compact", UsageSource.DailyUser => "usage_daily_user", _ => "usage_daily" }, "day");
                scope.And($"day >= toDate(toDateTime({scope.Bind(fromSeconds, "Int64")}, 'UTC'))");
                scope.And($"day < toDate(toDateTime({scope.Bind(toSeconds, "Int64")}, 'UTC'))");
                break;
        }

        foreach (var (dimension, value) in query.Filters.OrderBy(f => f.Key))
        {
            scope.And($"{Column(dimension)} = {scope.Bind(value, "String")}");
        }

        var zone = query.GroupBy.Any(IsTime) ? scope.Bind(query.TimeZone.Id, "String") : null;
        var keys = query.GroupBy.Select((dimension, i) => dimension switch
        {
            UsageDimension.Day when source is UsageSource.Daily or UsageSource.DailyCompact or UsageSource.DailyUser => $"toString(day) AS k{i}",
            UsageDimension.Day => $"toString(toDate({time}, {zone})) AS k{i}",
            UsageDimension.Hour => $"toUnixTimestamp(toStartOfHour({time}, {zone})) AS k{i}",
            _ => $"{Column(dimension)} AS k{i}",
        }).ToList();

        var aggregates = Sums;

        var sql = new StringBuilder("SELECT ");
        sql.AppendJoin(", ", keys.Append(aggregates));
        sql.Append(" FROM ").Append(table).Append(' ').Append(scope.WhereClause);
        if (keys.Count > 0)
        {
            var names = Enumerable.Range(0, keys.Count).Select(i => $"k{i}").ToList();
            sql.Append(" GROUP BY ").AppendJoin(", ", names);

            // Time first (charts), then the most expensive groups, then the keys so the order is total.
            var timeKeys = names.Where((_, i) => IsTime(query.GroupBy[i]));
            var otherKeys = names.Where((_, i) => !IsTime(query.GroupBy[i]));
            var cost = $"{keys.Count + CostSumPosition}";
            sql.Append(" ORDER BY ").AppendJoin(", ", timeKeys.Append(cost + " DESC").Concat(otherKeys));
        }

        return (sql.ToString(), scope);
    }

    internal static UsageTotals ReadTotals(System.Data.Common.DbDataReader reader, int offset)
    {
        ulong U(int i) => Convert.ToUInt64(reader.GetValue(offset + i), CultureInfo.InvariantCulture);
        var events = U(0);
        var unpriced = U(1);
        var cost = Convert.ToDecimal(reader.GetValue(offset + 8), CultureInfo.InvariantCulture);
        var adjustments = Convert.ToDecimal(reader.GetValue(offset + 9), CultureInfo.InvariantCulture);
        return new UsageTotals(events, unpriced, U(2), U(3), U(4), U(5), U(6), U(7), events == unpriced ? null : cost, adjustments)
        {
            Modalities = new ModalityTokens(U(10), U(11), U(12), U(13), U(14), U(15), U(16), U(17)),
            Images = U(18),
            AudioSeconds = Convert.ToDecimal(reader.GetValue(offset + 19), CultureInfo.InvariantCulture),
            WebSearchQueries = U(20),
        };
    }

    private static string FormatKey(UsageDimension dimension, object value, TimeZoneInfo zone) => dimension switch
    {
        UsageDimension.Hour => TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeSeconds(Convert.ToInt64(value, CultureInfo.InvariantCulture)), zone)
            .ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    internal static string Column(UsageDimension dimension) => dimension switch
    {
        UsageDimension.Provider => "provider",
        UsageDimension.Model => "model",
        UsageDimension.Application => "application",
        UsageDimension.Project => "project",
        UsageDimension.User => "user_id",
        UsageDimension.Team => "team",
        UsageDimension.Environment => "environment",
        UsageDimension.Customer => "customer",
        _ => throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "Not a column dimension."),
    };

    private static bool IsTime(UsageDimension dimension) => dimension is UsageDimension.Day or UsageDimension.Hour;

    private static bool IsAligned(DateTimeOffset instant, long unitTicks) => instant.UtcTicks % unitTicks == 0;

    /// <summary>Whether every offset the zone has within the range is a whole number of hours.</summary>
    private static bool HasWholeHourOffsets(TimeZoneInfo zone, DateTimeOffset from, DateTimeOffset to) =>
        zone.GetUtcOffset(from).Ticks % TimeSpan.TicksPerHour == 0
        && zone.GetAdjustmentRules()
            .Where(rule => rule.DateStart <= to.UtcDateTime && rule.DateEnd >= from.UtcDateTime)
            .All(rule => (zone.BaseUtcOffset + rule.BaseUtcOffsetDelta).Ticks % TimeSpan.TicksPerHour == 0
                && (zone.BaseUtcOffset + rule.BaseUtcOffsetDelta + rule.DaylightDelta).Ticks % TimeSpan.TicksPerHour == 0);
}
