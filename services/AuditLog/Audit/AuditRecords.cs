using System.Text.Json;
using Npgsql;
using Tokage.Audit;

namespace Tokage.AuditLog.Audit;

/// <summary>Reads records and global links back as the chain hashed them.</summary>
public static class AuditRecords
{
    private const string RecordColumns = """
        id, tenant_id, seq, outbox_id, occurred_at, recorded_at, kind, subject, actor_type, actor_id, actor_address, actor_user_agent,
        before::text, after::text, prev_hash, hash
        """;

    /// <param name="filter">The WHERE condition and ORDER BY (and LIMIT) after them, with parameters <paramref name="bind"/> sets.</param>
    public static async Task<List<AuditRecord>> ReadAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string filter, Action<NpgsqlCommand> bind, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT {RecordColumns} FROM audit_records WHERE {filter}", connection, transaction);
        bind(command);
        var records = new List<AuditRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(new AuditRecord(
                reader.GetInt64(0),
                reader.GetGuid(1),
                reader.GetInt64(2),
                reader.GetGuid(3),
                reader.GetFieldValue<DateTimeOffset>(4),
                reader.GetFieldValue<DateTimeOffset>(5),
                reader.GetString(6),
                reader.GetString(7),
                ActorAt(reader, 8),
                JsonAt(reader, 12),
                JsonAt(reader, 13),
                reader.GetString(14),
                reader.GetString(15)));
        }

        return records;
    }

    /// <summary>actor_type, actor_id, actor_address and actor_user_agent from <paramref name="first"/> on (outbox rows and records alike).</summary>
    internal static AuditActor ActorAt(NpgsqlDataReader reader, int first) =>
        new(reader.GetString(first), reader.GetString(first + 1), TextAt(reader, first + 2), TextAt(reader, first + 3));

    /// <summary>A jsonb column read as text (<c>before::text</c>), parsed as the chain hashes it.</summary>
    internal static JsonElement? JsonAt(NpgsqlDataReader reader, int ordinal) => CanonicalJson.Parse(TextAt(reader, ordinal));

    private static string? TextAt(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static async Task<List<AuditHead>> ReadHeadsAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string filter, Action<NpgsqlCommand> bind, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"SELECT seq, tenant_id, chain_seq, chain_hash, recorded_at, prev_hash, hash FROM audit_heads WHERE {filter}", connection, transaction);
        bind(command);
        var heads = new List<AuditHead>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            heads.Add(new AuditHead(reader.GetInt64(0), reader.GetGuid(1), reader.GetInt64(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetString(5), reader.GetString(6)));
        }

        return heads;
    }
}
