using System.Globalization;
using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Utility;

namespace Tokage.Analytics.Queries;

/// <summary>
/// Which stored events a repricing prices again: those priced by one of <see cref="PriceVersionIds"/> (a corrected
/// version and its corrections), or, with none named, those stored unpriced; from <see cref="Since"/> on, of one tenant
/// or (empty) of every tenant.
/// </summary>
public sealed record RepricingSelection(string TenantId, DateTimeOffset Since, IReadOnlyList<string> PriceVersionIds);

/// <summary>One stored event as a repricing needs it: its dimensions, its counts, what it was charged.</summary>
public sealed record EventToReprice(
    StoredEventKey Key, DateTime EventTime, string Provider, string Model, string ServiceTier, string Application, string Project,
    string UserId, string Team, string Environment, string Customer, ulong InputTokens, ulong CacheReadTokens, ulong CacheWriteTokens,
    ulong CacheWrite1hTokens, ulong OutputTokens, ulong ReasoningTokens, ModalityTokens Modalities, ulong Images, decimal AudioSeconds,
    ulong WebSearchQueries, decimal CostUsd);

/// <summary>What earlier repricings made of one event: the sum of its adjustments, and whether this repricing made one.</summary>
public readonly record struct PriorAdjustments(decimal AdjustedUsd, bool ByThisRepricing);

/// <summary>
/// The reads of a repricing, across tenants (it is the registry's work, not a tenant's query): stored events page by
/// page in the raw table's key order (so each page is a range read of the key, never a sort of everything), and the
/// adjustments already made to a page's events.
/// </summary>
public sealed class RepricingReads(ClickHouseClient client)
{
    private static readonly string EventColumns =
        "tenant_id, toDate(event_time), event_id, event_time, provider, model, service_tier, application, project, user_id, team, environment, customer, " +
        "input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, " +
        $"{string.Join(", ", ModalityTokens.ColumnNames)}, images, audio_seconds, web_search_queries, cost_usd";

    /// <summary>Up to <paramref name="limit"/> selected events after <paramref name="after"/> (null: from the start), in key order.</summary>
    public async Task<List<EventToReprice>> PageAsync(RepricingSelection selection, StoredEventKey? after, int limit, CancellationToken cancellationToken = default)
    {
        var parameters = new ClickHouseParameterCollection();
        var where = new List<string> { "event_time >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')" };
        parameters.AddParameter("since", selection.Since.ToUnixTimeMilliseconds());
        if (selection.TenantId.Length > 0)
        {
            where.Add("tenant_id = {tenant:String}");
            parameters.AddParameter("tenant", selection.TenantId);
        }

        if (selection.PriceVersionIds.Count > 0)
        {
            where.Add("price_version_id IN {versions:Array(String)}");
            parameters.AddParameter("versions", selection.PriceVersionIds.ToArray());
        }
        else
        {
            where.Add("NOT priced");
        }

        if (after is { } cursor)
        {
            where.Add("(tenant_id, toDate(event_time), event_id) > ({after_tenant:String}, {after_day:Date}, {after_event:String})");
            parameters.AddParameter("after_tenant", cursor.TenantId);
            parameters.AddParameter("after_day", cursor.Day);
            parameters.AddParameter("after_event", cursor.EventId);
        }

        parameters.AddParameter("limit", limit);
        var events = new List<EventToReprice>(limit);
        using var reader = await client.ExecuteReaderAsync(
            $"SELECT {EventColumns} FROM usage_events FINAL WHERE {string.Join(" AND ", where)} " +
            "ORDER BY tenant_id, toDate(event_time), event_id LIMIT {limit:UInt32}", parameters, cancellationToken: cancellationToken);
        while (reader.Read())
        {
            ulong U(int i) => Convert.ToUInt64(reader.GetValue(i), CultureInfo.InvariantCulture);
            string S(int i) => reader.GetString(i);
            events.Add(new EventToReprice(
                new StoredEventKey(S(0), DateOnly.FromDateTime(reader.GetDateTime(1)), S(2)), reader.GetDateTime(3), S(4), S(5), S(6), S(7), S(8),
                S(9), S(10), S(11), S(12), U(13), U(14), U(15), U(16), U(17), U(18),
                new ModalityTokens(U(19), U(20), U(21), U(22), U(23), U(24), U(25), U(26)), U(27),
                Convert.ToDecimal(reader.GetValue(28), CultureInfo.InvariantCulture), U(29), Convert.ToDecimal(reader.GetValue(30), CultureInfo.InvariantCulture)));
        }

        return events;
    }

    /// <summary>The adjustments already made to <paramref name="keys"/>' events (absent: none).</summary>
    public async Task<Dictionary<(string TenantId, string EventId), PriorAdjustments>> PriorAdjustmentsAsync(
        IReadOnlyCollection<StoredEventKey> keys, ulong repricingId, CancellationToken cancellationToken = default)
    {
        var prior = new Dictionary<(string, string), PriorAdjustments>();
        foreach (var chunk in EventLookups.BySize(keys))
        {
            var parameters = new ClickHouseParameterCollection();
            parameters.AddParameter("keys", chunk.Select(k => Tuple.Create(k.TenantId, k.EventId)).ToArray());
            parameters.AddParameter("repricing", repricingId);
            using var reader = await client.ExecuteReaderAsync(
                "SELECT tenant_id, event_id, sum(adjustment_usd), max(repricing_id = {repricing:UInt64}) FROM usage_adjustments FINAL " +
                "WHERE (tenant_id, event_id) IN {keys:Array(Tuple(String, String))} GROUP BY tenant_id, event_id",
                parameters, cancellationToken: cancellationToken);
            while (reader.Read())
            {
                prior[(reader.GetString(0), reader.GetString(1))] = new PriorAdjustments(
                    Convert.ToDecimal(reader.GetValue(2), CultureInfo.InvariantCulture), Convert.ToUInt64(reader.GetValue(3), CultureInfo.InvariantCulture) == 1);
            }
        }

        return prior;
    }
}
