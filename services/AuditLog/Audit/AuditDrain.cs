using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Tokage.Audit;

namespace Tokage.AuditLog.Audit;

/// <summary>
/// Moves outbox rows into the chains, exactly once and in commit order. A row is taken only once every transaction
/// that could still commit a row before it has ended (its <c>tx</c> is below the oldest running transaction id), so
/// the cursor — the last drained (tx, position), kept in the records themselves — never passes a row that shows up
/// later. One transaction per batch: records, their chains' new heads in the global chain, all or nothing; a crash
/// mid-batch leaves nothing, and the next drain takes the same rows again. One drainer at a time (advisory lock).
/// </summary>
public sealed class AuditDrain(NpgsqlDataSource database, IOptions<AuditOptions> options, ILogger<AuditDrain> logger) : BackgroundService
{
    /// <summary>The advisory lock the drain and the sealer share (a seal never runs beside a drain).</summary>
    public const long LockKey = 0x7A_75_64_69_74; // "audit"

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var drained = 0;
            try
            {
                drained = await DrainOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Draining the audit outbox failed; retrying.");
            }

            if (drained < options.Value.DrainBatchSize)
            {
                await Task.Delay(options.Value.DrainInterval, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>One batch; the number of records it appended.</summary>
    public async Task<int> DrainOnceAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var recordedAt = await LockAsync(connection, transaction, cancellationToken);

        var (lastTx, lastPosition) = await CursorAsync(connection, transaction, cancellationToken);
        var rows = await PendingAsync(connection, transaction, lastTx, lastPosition, cancellationToken);
        if (rows.Count == 0)
        {
            await transaction.CommitAsync(cancellationToken);
            return 0;
        }

        // Every chain the batch appends to, its head read in one round trip; then each record links to the one before.
        var heads = await ChainHeadsAsync(connection, transaction, [.. rows.Select(r => r.Record.TenantId).Distinct()], cancellationToken);
        var appended = new List<Guid>();
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var row in rows)
        {
            var chain = row.Record.TenantId;
            var head = heads[chain];
            if (!appended.Contains(chain))
            {
                appended.Add(chain);
            }

            var record = (row.Record with { RecordedAt = recordedAt }).Chained(head.Seq + 1, head.Hash);
            heads[chain] = (record.Seq, record.Hash);
            batch.BatchCommands.Add(InsertRecord(record, row.Tx, row.Position));
        }

        // The global chain anchors each chain's new head, in the order the chains first appeared in the batch.
        var global = await GlobalHeadAsync(connection, transaction, cancellationToken);
        foreach (var chain in appended)
        {
            var head = heads[chain];
            var link = new AuditHead(0, chain, head.Seq, head.Hash, recordedAt, "", "").Chained(global.Seq + 1, global.Hash);
            global = (link.Seq, link.Hash);
            batch.BatchCommands.Add(InsertHead(link));
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        logger.LogDebug("Chained {Records} audit records over {Chains} chains: outbox ({FirstTx}, {FirstPosition}) to ({LastTx}, {LastPosition}), after ({CursorTx}, {CursorPosition}).",
            rows.Count, appended.Count, rows[0].Tx, rows[0].Position, rows[^1].Tx, rows[^1].Position, lastTx, lastPosition);
        return rows.Count;
    }

    /// <summary>Takes the lock, then the time the batch is recorded at: read under the lock, so no batch recorded before a seal's cutoff commits after it.</summary>
    internal static async Task<DateTimeOffset> LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key); SELECT clock_timestamp()", connection, transaction);
        command.Parameters.AddWithValue("key", LockKey);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return AuditHashing.ToMicroseconds(reader.GetFieldValue<DateTimeOffset>(0));
    }

    private static async Task<(ulong Tx, long Position)> CursorAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            // xid8 is read as text (no .NET type); the alias keeps ORDER BY on the xid8 column, not on its text.
            "SELECT outbox_tx::text AS outbox_tx_text, outbox_position FROM audit_records ORDER BY outbox_tx DESC, outbox_position DESC LIMIT 1", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (ulong.Parse(reader.GetString(0)), reader.GetInt64(1)) : (0, 0);
    }

    private sealed record Pending(ulong Tx, long Position, AuditRecord Record);

    private async Task<List<Pending>> PendingAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ulong lastTx, long lastPosition, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT tx::text AS tx_text, position, id, tenant_id, occurred_at, kind, subject, actor_type, actor_id, actor_address, actor_user_agent,
                   before::text, after::text
            FROM audit_outbox
            WHERE (tx, position) > (@tx::text::xid8, @position) AND tx < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY tx, position
            LIMIT @limit
            """, connection, transaction);
        command.Parameters.AddWithValue("tx", lastTx.ToString(System.Globalization.CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("position", lastPosition);
        command.Parameters.AddWithValue("limit", options.Value.DrainBatchSize);
        var rows = new List<Pending>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var record = new AuditRecord(
                0,
                reader.IsDBNull(3) ? AuditRecord.Platform : reader.GetGuid(3),
                0,
                reader.GetGuid(2),
                AuditHashing.ToMicroseconds(reader.GetFieldValue<DateTimeOffset>(4)),
                default,
                reader.GetString(5),
                reader.GetString(6),
                AuditRecords.ActorAt(reader, 7),
                AuditRecords.JsonAt(reader, 11),
                AuditRecords.JsonAt(reader, 12),
                "",
                "");
            rows.Add(new Pending(ulong.Parse(reader.GetString(0)), reader.GetInt64(1), record));
        }

        return rows;
    }

    /// <summary>Each chain's last seq and hash (0 and the genesis hash for a chain with no record yet).</summary>
    private static async Task<Dictionary<Guid, (long Seq, string Hash)>> ChainHeadsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] chains, CancellationToken cancellationToken)
    {
        var heads = chains.ToDictionary(c => c, _ => (0L, AuditRecord.Genesis));
        await using var command = new NpgsqlCommand("""
            SELECT c.chain, r.seq, r.hash FROM unnest(@chains) AS c (chain)
            CROSS JOIN LATERAL (SELECT seq, hash FROM audit_records WHERE tenant_id = c.chain ORDER BY seq DESC LIMIT 1) AS r
            """, connection, transaction);
        command.Parameters.AddWithValue("chains", chains);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            heads[reader.GetGuid(0)] = (reader.GetInt64(1), reader.GetString(2));
        }

        return heads;
    }

    private static async Task<(long Seq, string Hash)> GlobalHeadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT seq, hash FROM audit_heads ORDER BY seq DESC LIMIT 1", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetInt64(0), reader.GetString(1)) : (0, AuditRecord.Genesis);
    }

    private static NpgsqlBatchCommand InsertRecord(AuditRecord record, ulong tx, long position)
    {
        var command = new NpgsqlBatchCommand("""
            INSERT INTO audit_records (tenant_id, seq, outbox_id, outbox_tx, outbox_position, occurred_at, recorded_at, kind, subject,
                actor_type, actor_id, actor_address, actor_user_agent, before, after, prev_hash, hash)
            VALUES (@tenant, @seq, @outbox, @tx::text::xid8, @position, @occurred, @recorded, @kind, @subject,
                @actor_type, @actor_id, @address, @agent, @before, @after, @prev, @hash)
            """);
        command.Parameters.AddWithValue("tenant", record.TenantId);
        command.Parameters.AddWithValue("seq", record.Seq);
        command.Parameters.AddWithValue("outbox", record.OutboxId);
        command.Parameters.AddWithValue("tx", tx.ToString(System.Globalization.CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("position", position);
        command.Parameters.AddWithValue("occurred", record.OccurredAt);
        command.Parameters.AddWithValue("recorded", record.RecordedAt);
        command.Parameters.AddWithValue("kind", record.Kind);
        command.Parameters.AddWithValue("subject", record.Subject);
        command.Parameters.AddWithValue("actor_type", record.Actor.Type);
        command.Parameters.AddWithValue("actor_id", record.Actor.Id);
        command.Parameters.Add(Text("address", record.Actor.Address));
        command.Parameters.Add(Text("agent", record.Actor.UserAgent));
        command.Parameters.Add(new NpgsqlParameter("before", NpgsqlDbType.Jsonb) { Value = (object?)CanonicalJson.Text(record.Before) ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("after", NpgsqlDbType.Jsonb) { Value = (object?)CanonicalJson.Text(record.After) ?? DBNull.Value });
        command.Parameters.AddWithValue("prev", record.PrevHash);
        command.Parameters.AddWithValue("hash", record.Hash);
        return command;
    }

    private static NpgsqlBatchCommand InsertHead(AuditHead head)
    {
        var command = new NpgsqlBatchCommand(
            "INSERT INTO audit_heads (seq, tenant_id, chain_seq, chain_hash, recorded_at, prev_hash, hash) VALUES (@seq, @tenant, @chain_seq, @chain_hash, @recorded, @prev, @hash)");
        command.Parameters.AddWithValue("seq", head.Seq);
        command.Parameters.AddWithValue("tenant", head.TenantId);
        command.Parameters.AddWithValue("chain_seq", head.ChainSeq);
        command.Parameters.AddWithValue("chain_hash", head.ChainHash);
        command.Parameters.AddWithValue("recorded", head.RecordedAt);
        command.Parameters.AddWithValue("prev", head.PrevHash);
        command.Parameters.AddWithValue("hash", head.Hash);
        return command;
    }

    private static NpgsqlParameter Text(string name, string? value) => new(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value };
}
