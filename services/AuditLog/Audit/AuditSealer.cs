using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.Audit;
using Tokage.Integrations.ObjectStore;

namespace Tokage.AuditLog.Audit;

/// <summary>
/// Seals each ended segment (an hour) once: its records and global links as one write-once object in the object store
/// (S3 Object Lock COMPLIANCE with the retention, or a read-only file), then a row in <c>audit_segments</c> with the
/// object's SHA-256. A crash between the two writes the same bytes again next time. Holds the drain's lock, and a drain
/// reads its record time under that lock, so no batch recorded inside a sealed segment can commit after the seal.
/// </summary>
public sealed class AuditSealer(
    NpgsqlDataSource database, [FromKeyedServices("archive")] IObjectStore store, IOptions<AuditOptions> options, TimeProvider time, ILogger<AuditSealer> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SealDueAsync(time.GetUtcNow(), stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Sealing audit segments failed; retrying.");
            }

            await Task.Delay(options.Value.SealInterval, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>Seals every unsealed segment that ended at least the seal delay before <paramref name="now"/>; the segments sealed.</summary>
    public async Task<IReadOnlyList<AuditSegment>> SealDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var length = options.Value.SegmentLength;
        var cutoff = StartOf(now - options.Value.SealDelay, length);
        var sealedSegments = new List<AuditSegment>();
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await AuditDrain.LockAsync(connection, transaction, cancellationToken);
        foreach (var start in await DueStartsAsync(connection, transaction, cutoff, length, cancellationToken))
        {
            var segment = await ReadSegmentAsync(connection, transaction, start, start + length, cancellationToken);
            var bytes = segment.ToBytes();
            var key = AuditSegment.KeyOf(start);
            var retainUntil = start.AddYears(options.Value.RetentionYears);
            await store.PutWriteOnceAsync(key, bytes, retainUntil, cancellationToken);
            await using var insert = new NpgsqlCommand("""
                INSERT INTO audit_segments (starts_at, ends_at, object_key, records, heads, head_hash, sha256, retain_until, sealed_at)
                VALUES (@start, @end, @key, @records, @heads, @head_hash, @sha256, @retain, clock_timestamp())
                """, connection, transaction);
            insert.Parameters.AddWithValue("start", start);
            insert.Parameters.AddWithValue("end", segment.End);
            insert.Parameters.AddWithValue("key", key);
            insert.Parameters.AddWithValue("records", segment.Records.Count);
            insert.Parameters.AddWithValue("heads", segment.Heads.Count);
            insert.Parameters.AddWithValue("head_hash", segment.HeadHash);
            insert.Parameters.AddWithValue("sha256", AuditHashing.Sha256Hex(bytes));
            insert.Parameters.AddWithValue("retain", retainUntil);
            await insert.ExecuteNonQueryAsync(cancellationToken);
            sealedSegments.Add(segment);
            logger.LogInformation("Sealed audit segment {Start:O} as {Key}: {Records} records, {Heads} global links.", start, key, segment.Records.Count, segment.Heads.Count);
        }

        await transaction.CommitAsync(cancellationToken);
        return sealedSegments;
    }

    public static DateTimeOffset StartOf(DateTimeOffset time, TimeSpan length) => new(time.UtcTicks - time.UtcTicks % length.Ticks, TimeSpan.Zero);

    /// <summary>
    /// Starts of the segments before <paramref name="cutoff"/> that have global links (every drained batch adds one) and
    /// come after the last sealed segment.
    /// </summary>
    private static async Task<List<DateTimeOffset>> DueStartsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, DateTimeOffset cutoff, TimeSpan length, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT DISTINCT recorded_at
            FROM audit_heads
            WHERE recorded_at < @cutoff
              AND recorded_at >= coalesce((SELECT max(ends_at) FROM audit_segments), '-infinity')
            """, connection, transaction);
        command.Parameters.AddWithValue("cutoff", cutoff);
        var starts = new SortedSet<DateTimeOffset>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            starts.Add(StartOf(reader.GetFieldValue<DateTimeOffset>(0), length));
        }

        return [.. starts];
    }

    private static async Task<AuditSegment> ReadSegmentAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        void Bind(NpgsqlCommand command)
        {
            command.Parameters.AddWithValue("from", start);
            command.Parameters.AddWithValue("to", end);
        }

        var records = await AuditRecords.ReadAsync(connection, transaction, "recorded_at >= @from AND recorded_at < @to ORDER BY id", Bind, cancellationToken);
        var heads = await AuditRecords.ReadHeadsAsync(connection, transaction, "recorded_at >= @from AND recorded_at < @to ORDER BY seq", Bind, cancellationToken);
        return new AuditSegment(start, end, records, heads);
    }
}
