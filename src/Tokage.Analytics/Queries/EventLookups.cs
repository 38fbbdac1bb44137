using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Utility;

namespace Tokage.Analytics.Queries;

/// <summary>Where a raw row sits in the table's sorting key: its tenant, its event's UTC day, its event id.</summary>
public readonly record struct StoredEventKey(string TenantId, DateOnly Day, string EventId)
{
    public static StoredEventKey Of(string tenantId, DateTime eventTimeUtc, string eventId) => new(tenantId, DateOnly.FromDateTime(eventTimeUtc), eventId);
}

/// <summary>What became of one event id: stored (with its cost and price version), repeated, quarantined.</summary>
public sealed record EventRecords(StoredEvent? Processed, IReadOnlyList<DuplicateRecord> Duplicates, IReadOnlyList<QuarantinedRecord> Quarantined)
{
    public bool Found => Processed is not null || Duplicates.Count > 0 || Quarantined.Count > 0;
}

public sealed record StoredEvent(
    DateTime EventTime, DateTime IngestTime, string Source, string Provider, string Model, bool Priced, decimal CostUsd,
    string PriceVersionId, string PricedModel, string Classification, string LogPosition, string UnpricedReason);

/// <summary>What one instrumentation scope's stored span events came to.</summary>
public sealed record OtlpScopeOutcome(string ScopeName, string ScopeVersion, ulong Billed, ulong UnpricedModelMissing, ulong UnpricedNoPrice);

public sealed record DuplicateRecord(DateTime ReceivedTime, string LogPosition, string DuplicateOf);

public sealed record QuarantinedRecord(DateTime ReceivedTime, string Reason, string Detail, string LogPosition);

/// <summary>One stored event as the recent-events list shows it.</summary>
public sealed record RecentEvent(
    string EventId, DateTime EventTime, string Source, string Provider, string Model, string Application, string Project, string UserId,
    string Team, string Environment, ulong InputTokens, ulong CacheReadTokens, ulong CacheWriteTokens, ulong CacheWrite1hTokens,
    ulong OutputTokens, ulong ReasoningTokens, bool Priced, decimal CostUsd, string PriceVersionId, string Classification, string UnpricedReason);

/// <summary>Tenant-scoped lookups of single events by id (event status; the processor's replay reconciliation).</summary>
public sealed class EventLookups(ClickHouseClient client, Privacy.PersonalValues? personal = null)
{
    // Parameters travel in the request body (form data, see AddClickHouseClient), where a ClickHouse server takes a
    // field of up to 128 KiB (http_max_field_value_size): a query's keys stay well under that.
    private const int KeyBytesPerQuery = 96 * 1024;

    /// <summary>
    /// The log positions of the raw rows stored under each key, across tenants (the processor asks for a whole batch).
    /// The key is the raw table's sorting key, so ClickHouse reads only the granules that can hold one of them; an
    /// event sent again under the same id but another day is another row, as it is for <c>FINAL</c>.
    /// </summary>
    public async Task<Dictionary<StoredEventKey, string>> StoredPositionsAsync(IReadOnlyCollection<StoredEventKey> keys, CancellationToken cancellationToken = default)
    {
        var stored = new Dictionary<StoredEventKey, string>();
        foreach (var chunk in BySize(keys.Distinct()))
        {
            var parameters = new ClickHouseParameterCollection();
            parameters.AddParameter("keys", chunk.Select(k => Tuple.Create(k.TenantId, k.Day, k.EventId)).ToArray());
            using var reader = await client.ExecuteReaderAsync(
                "SELECT tenant_id, toDate(event_time) AS day, event_id, any(log_position) FROM usage_events " +
                "WHERE (tenant_id, toDate(event_time), event_id) IN {keys:Array(Tuple(String, Date, String))} GROUP BY tenant_id, day, event_id",
                parameters, cancellationToken: cancellationToken);
            while (reader.Read())
            {
                stored[new StoredEventKey(reader.GetString(0), DateOnly.FromDateTime(reader.GetDateTime(1)), reader.GetString(2))] = reader.GetString(3);
            }
        }

        return stored;
    }

    /// <summary>The keys in runs whose text form (roughly <c>('tenant','2026-01-01','id'),</c>) stays under <see cref="KeyBytesPerQuery"/>.</summary>
    internal static IEnumerable<List<StoredEventKey>> BySize(IEnumerable<StoredEventKey> keys)
    {
        var run = new List<StoredEventKey>();
        var bytes = 0;
        foreach (var key in keys)
        {
            var size = System.Text.Encoding.UTF8.GetByteCount(key.TenantId) + System.Text.Encoding.UTF8.GetByteCount(key.EventId) * 2 + 32;
            if (run.Count > 0 && bytes + size > KeyBytesPerQuery)
            {
                yield return run;
                (run, bytes) = ([], 0);
            }

            run.Add(key);
            bytes += size;
        }

        if (run.Count > 0)
        {
            yield return run;
        }
    }

    public async Task<EventRecords> FindAsync(string tenantId, string eventId, CancellationToken cancellationToken = default)
    {
        StoredEvent? processed = null;
        var scope = Scope(tenantId, eventId);
        using (var reader = await client.ExecuteReaderAsync(
            "SELECT event_time, ingest_time, source, provider, model, priced, cost_usd, price_version_id, priced_model, classification, log_position, " +
            "metadata['tokage.unpriced_reason'] " +
            $"FROM usage_events FINAL {scope.WhereClause} LIMIT 1", scope.Parameters, cancellationToken: cancellationToken))
        {
            if (reader.Read())
            {
                processed = new StoredEvent(reader.GetDateTime(0), reader.GetDateTime(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                    reader.GetBoolean(5), reader.GetDecimal(6), reader.GetString(7), reader.GetString(8), reader.GetString(9), reader.GetString(10), reader.GetString(11));
            }
        }

        var duplicates = new List<DuplicateRecord>();
        scope = Scope(tenantId, eventId);
        using (var reader = await client.ExecuteReaderAsync(
            $"SELECT received_time, log_position, duplicate_of FROM usage_duplicates FINAL {scope.WhereClause} ORDER BY received_time LIMIT 100",
            scope.Parameters, cancellationToken: cancellationToken))
        {
            while (reader.Read())
            {
                duplicates.Add(new DuplicateRecord(reader.GetDateTime(0), reader.GetString(1), reader.GetString(2)));
            }
        }

        var quarantined = new List<QuarantinedRecord>();
        scope = Scope(tenantId, eventId);
        using (var reader = await client.ExecuteReaderAsync(
            $"SELECT received_time, reason, detail, log_position FROM usage_quarantine {scope.WhereClause} ORDER BY received_time LIMIT 100",
            scope.Parameters, cancellationToken: cancellationToken))
        {
            while (reader.Read())
            {
                quarantined.Add(new QuarantinedRecord(reader.GetDateTime(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
            }
        }

        return new EventRecords(processed, duplicates, quarantined);
    }

    /// <summary>
    /// The tenant's events in <c>[from, to)</c>, newest first, <paramref name="limit"/> at a time; the next page starts
    /// strictly after <paramref name="after"/> (the last row's time and id), so pages never repeat or skip a row.
    /// </summary>
    public async Task<IReadOnlyList<RecentEvent>> RecentAsync(
        string tenantId, DateTimeOffset from, DateTimeOffset to, IReadOnlyDictionary<UsageDimension, string> filters, int limit,
        (DateTime Time, string EventId)? after, CancellationToken cancellationToken = default)
    {
        var scope = new TenantScopedQuery(tenantId);
        scope.And($"event_time >= {scope.Bind(from.UtcDateTime, "DateTime64(3, 'UTC')")}").And($"event_time < {scope.Bind(to.UtcDateTime, "DateTime64(3, 'UTC')")}");
        foreach (var (dimension, value) in filters)
        {
            var stored = dimension == UsageDimension.User && personal is not null ? personal.StoredForm(tenantId, value) : value;
            scope.And($"{UsageQueries.Column(dimension)} = {scope.Bind(stored, "String")}");
        }

        if (after is { } cursor)
        {
            scope.And($"(event_time, event_id) < ({scope.Bind(cursor.Time, "DateTime64(3, 'UTC')")}, {scope.Bind(cursor.EventId, "String")})");
        }

        var events = new List<RecentEvent>();
        using var reader = await client.ExecuteReaderAsync(
            "SELECT event_id, event_time, source, provider, model, application, project, user_id, team, environment, input_tokens, cache_read_tokens, " +
            "cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, priced, cost_usd, price_version_id, classification, " +
            "metadata['tokage.unpriced_reason'] " +
            $"FROM usage_events FINAL {scope.WhereClause} ORDER BY event_time DESC, event_id DESC LIMIT {Math.Clamp(limit, 1, 1000)}",
            scope.Parameters, cancellationToken: cancellationToken);
        while (reader.Read())
        {
            events.Add(new RecentEvent(
                reader.GetString(0), reader.GetDateTime(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
                reader.GetString(6), reader.GetString(7), reader.GetString(8), reader.GetString(9), Convert.ToUInt64(reader.GetValue(10)),
                Convert.ToUInt64(reader.GetValue(11)), Convert.ToUInt64(reader.GetValue(12)), Convert.ToUInt64(reader.GetValue(13)),
                Convert.ToUInt64(reader.GetValue(14)), Convert.ToUInt64(reader.GetValue(15)), reader.GetBoolean(16), reader.GetDecimal(17),
                reader.GetString(18), reader.GetString(19), reader.GetString(20)));
        }

        return events;
    }

    /// <summary>
    /// Of the span events (source <c>otlp</c>) received in <c>[from, to)</c>, per instrumentation scope (the
    /// <c>otel.scope.name</c>/<c>otel.scope.version</c> metadata): how many were priced, and how many unpriced for want
    /// of a model or of a price.
    /// </summary>
    public async Task<IReadOnlyList<OtlpScopeOutcome>> OtlpOutcomesAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        var scope = new TenantScopedQuery(tenantId);
        scope.And("source = 'otlp'")
            .And($"ingest_time >= {scope.Bind(from.UtcDateTime, "DateTime64(3, 'UTC')")}").And($"ingest_time < {scope.Bind(to.UtcDateTime, "DateTime64(3, 'UTC')")}");
        var outcomes = new List<OtlpScopeOutcome>();
        using var reader = await client.ExecuteReaderAsync(
            "SELECT metadata['otel.scope.name'] AS name, metadata['otel.scope.version'] AS version, countIf(priced), countIf(NOT priced AND model = ''), " +
            $"countIf(NOT priced AND model != '') FROM usage_events FINAL {scope.WhereClause} GROUP BY name, version ORDER BY name, version",
            scope.Parameters, cancellationToken: cancellationToken);
        while (reader.Read())
        {
            outcomes.Add(new OtlpScopeOutcome(reader.GetString(0), reader.GetString(1), Convert.ToUInt64(reader.GetValue(2)),
                Convert.ToUInt64(reader.GetValue(3)), Convert.ToUInt64(reader.GetValue(4))));
        }

        return outcomes;
    }

    private static TenantScopedQuery Scope(string tenantId, string eventId)
    {
        var scope = new TenantScopedQuery(tenantId);
        return scope.And($"event_id = {scope.Bind(eventId, "String")}");
    }
}
