using Npgsql;
using NpgsqlTypes;
using Tokage.Analytics.Queries;

namespace Tokage.PriceRegistry.Repricing;

public enum RepricingKind
{
    /// <summary>A price version was corrected: the events it (or an earlier correction of it) priced are priced again.</summary>
    Correction,

    /// <summary>A price arrived: the events stored unpriced since it took effect are priced, where it prices them now.</summary>
    Unpriced,
}

/// <summary>One repricing and how far it got.</summary>
public sealed record RepricingJob(
    long Id, RepricingKind Kind, long VersionId, long? Corrects, string TenantId, DateTimeOffset Since, string Status,
    long EventsScanned, long EventsAdjusted, decimal AdjustmentsUsd, StoredEventKey? Cursor, string? Error,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

/// <summary>
/// The repricings in PostgreSQL (<c>price_repricings</c>): queued beside the price version that starts them (in its
/// transaction), claimed by one registry replica at a time (a running one whose heartbeat stops is claimed again), and
/// advanced page by page with a cursor, so a restart resumes where the last page ended.
/// </summary>
public sealed class RepricingStore(NpgsqlDataSource dataSource)
{
    private const string Columns =
        "id, kind, version_id, corrects, tenant_id, since, status, events_scanned, events_adjusted, adjustments_usd, " +
        "cursor_tenant, cursor_time_ms, cursor_event, error, created_at, started_at, finished_at";

    /// <summary>Queues a repricing inside the caller's transaction (the one that wrote the version).</summary>
    public static async Task<RepricingJob> QueueAsync(NpgsqlConnection connection, RepricingKind kind, long versionId, long? corrects, string tenantId,
        DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var insert = new NpgsqlCommand(
            $"INSERT INTO price_repricings (kind, version_id, corrects, tenant_id, since) VALUES ($1, $2, $3, $4, $5) RETURNING {Columns}", connection);
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Name(kind) });
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = versionId });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)corrects ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        insert.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = since.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        return (await ReadAll(insert, cancellationToken)).Single();
    }

    public async Task<RepricingJob?> FindAsync(long id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM price_repricings WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
        return (await ReadAll(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>The oldest queued repricing, or a running one whose worker went quiet for <paramref name="lease"/>; marked running.</summary>
    public async Task<RepricingJob?> ClaimNextAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            UPDATE price_repricings SET status = 'running', started_at = coalesce(started_at, now()), heartbeat_at = now()
            WHERE id = (
                SELECT id FROM price_repricings
                WHERE status = 'queued' OR (status = 'running' AND heartbeat_at < now() - $1)
                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING {Columns}
            """);
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = lease });
        return (await ReadAll(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>Records a page done: the cursor moves past it and its counts are added; also the worker's heartbeat.</summary>
    public async Task AdvanceAsync(long id, StoredEventKey cursor, long scanned, long adjusted, decimal adjustmentsUsd, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            UPDATE price_repricings SET cursor_tenant = $2, cursor_time_ms = $3, cursor_event = $4, events_scanned = events_scanned + $5,
                events_adjusted = events_adjusted + $6, adjustments_usd = adjustments_usd + $7, heartbeat_at = now()
            WHERE id = $1
            """);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = cursor.TenantId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = new DateTimeOffset(cursor.Day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToUnixTimeMilliseconds() });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = cursor.EventId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = scanned });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = adjusted });
        command.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = adjustmentsUsd });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Puts a running repricing back in the queue, keeping its cursor, with why it stopped.</summary>
    public async Task RequeueAsync(long id, string reason, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("UPDATE price_repricings SET status = 'queued', error = $2 WHERE id = $1 AND status = 'running'");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = reason });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task FinishAsync(long id, string? error, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE price_repricings SET status = $2, error = $3, finished_at = now(), heartbeat_at = now() WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = error is null ? "done" : "failed" });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static string Name(RepricingKind kind) => kind == RepricingKind.Correction ? "correction" : "unpriced";

    private static async Task<List<RepricingJob>> ReadAll(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var jobs = new List<RepricingJob>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            DateTimeOffset? Instant(int i) => reader.IsDBNull(i) ? null : reader.GetFieldValue<DateTimeOffset>(i);
            var cursor = reader.IsDBNull(10)
                ? (StoredEventKey?)null
                : new StoredEventKey(reader.GetString(10), DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(11)).UtcDateTime), reader.GetString(12));
            jobs.Add(new RepricingJob(
                reader.GetInt64(0), reader.GetString(1) == "correction" ? RepricingKind.Correction : RepricingKind.Unpriced, reader.GetInt64(2),
                reader.IsDBNull(3) ? null : reader.GetInt64(3), reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5), reader.GetString(6),
                reader.GetInt64(7), reader.GetInt64(8), reader.GetDecimal(9), cursor, reader.IsDBNull(13) ? null : reader.GetString(13),
                reader.GetFieldValue<DateTimeOffset>(14), Instant(15), Instant(16)));
        }

        return jobs;
    }
}
