using ClickHouse.Driver;

namespace Tokage.Analytics.Queries;

/// <summary>What became of one event id: stored (with its cost and price version), repeated, quarantined.</summary>
public sealed record EventRecords(StoredEvent? Processed, IReadOnlyList<DuplicateRecord> Duplicates, IReadOnlyList<QuarantinedRecord> Quarantined)
{
    public bool Found => Processed is not null || Duplicates.Count > 0 || Quarantined.Count > 0;
}

public sealed record StoredEvent(
    DateTime EventTime, DateTime IngestTime, string Source, string Provider, string Model, bool Priced, decimal CostUsd,
    string PriceVersionId, string PricedModel, string Classification, string LogPosition);

public sealed record DuplicateRecord(DateTime ReceivedTime, string LogPosition, string DuplicateOf);

public sealed record QuarantinedRecord(DateTime ReceivedTime, string Reason, string Detail, string LogPosition);

/// <summary>Tenant-scoped lookups of single events by id (event status; the processor's replay reconciliation).</summary>
public sealed class EventLookups(ClickHouseClient client)
{
    private const int IdsPerQuery = 100;

    /// <summary>The log positions stored for each of the event ids (of one tenant) that are in the raw table.</summary>
    public async Task<Dictionary<string, string>> StoredPositionsAsync(string tenantId, IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken = default)
    {
        var stored = new Dictionary<string, string>(StringComparer.Ordinal);
        if (eventIds.Count == 0)
        {
            return stored;
        }

        // Parameters travel in the URL: a few hundred ids per query keep it within any server's limit.
        foreach (var chunk in eventIds.Chunk(IdsPerQuery))
        {
            var scope = new TenantScopedQuery(tenantId);
            scope.And($"event_id IN {scope.Bind(chunk, "Array(String)")}");
            using var reader = await client.ExecuteReaderAsync(
                $"SELECT event_id, any(log_position) FROM usage_events {scope.WhereClause} GROUP BY event_id", scope.Parameters, cancellationToken: cancellationToken);
            while (reader.Read())
            {
                stored[reader.GetString(0)] = reader.GetString(1);
            }
        }

        return stored;
    }

    public async Task<EventRecords> FindAsync(string tenantId, string eventId, CancellationToken cancellationToken = default)
    {
        StoredEvent? processed = null;
        var scope = Scope(tenantId, eventId);
        using (var reader = await client.ExecuteReaderAsync(
            "SELECT event_time, ingest_time, source, provider, model, priced, cost_usd, price_version_id, priced_model, classification, log_position " +
            $"FROM usage_events FINAL {scope.WhereClause} LIMIT 1", scope.Parameters, cancellationToken: cancellationToken))
        {
            if (reader.Read())
            {
                processed = new StoredEvent(reader.GetDateTime(0), reader.GetDateTime(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                    reader.GetBoolean(5), reader.GetDecimal(6), reader.GetString(7), reader.GetString(8), reader.GetString(9), reader.GetString(10));
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

    private static TenantScopedQuery Scope(string tenantId, string eventId)
    {
        var scope = new TenantScopedQuery(tenantId);
        return scope.And($"event_id = {scope.Bind(eventId, "String")}");
    }
}
