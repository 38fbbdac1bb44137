using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Tokage.Audit;

/// <summary>
/// A change to record: its tenant (null: the platform's, such as public prices), its kind (<c>key.revoked</c>), what it
/// changed (<c>key:0192…</c>) and the state before and after as JSON — never a secret.
/// </summary>
public sealed record AuditChange(Guid? TenantId, string Kind, string Subject, JsonElement? Before, JsonElement? After)
{
    /// <summary>The JSON the API shows (snake_case), so a record's diff reads like the resource it is about.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static AuditChange Of<T>(Guid? tenant, string kind, string subject, T? before, T? after) =>
        new(tenant, kind, subject, Serialize(before), Serialize(after));

    public static JsonElement? Serialize<T>(T? value) => value is null ? null : JsonSerializer.SerializeToElement(value, Json);
}

/// <summary>
/// The outbox a changing service writes to in the change's own transaction (its role may only insert). audit-log
/// drains it into the chains. Each row carries its writing transaction's id (<c>pg_current_xact_id()</c>), which is
/// how the drain knows a row can no longer be overtaken by one that commits later.
/// </summary>
public static class AuditOutbox
{
    public const string Table = "audit_outbox";

    public static async Task AppendAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, AuditChange change, AuditActor actor, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction) { BatchCommands = { Command(change, actor) } };
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The insert, for a batch that writes the change itself.</summary>
    public static NpgsqlBatchCommand Command(AuditChange change, AuditActor actor)
    {
        var command = new NpgsqlBatchCommand("""
            INSERT INTO audit_outbox (id, tenant_id, kind, subject, actor_type, actor_id, actor_address, actor_user_agent, before, after)
            VALUES (@id, @tenant, @kind, @subject, @actor_type, @actor_id, @address, @agent, @before, @after)
            """);
        command.Parameters.AddWithValue("id", Guid.CreateVersion7());
        command.Parameters.Add(new NpgsqlParameter("tenant", NpgsqlDbType.Uuid) { Value = (object?)change.TenantId ?? DBNull.Value });
        command.Parameters.AddWithValue("kind", change.Kind);
        command.Parameters.AddWithValue("subject", change.Subject);
        command.Parameters.AddWithValue("actor_type", actor.Type);
        command.Parameters.AddWithValue("actor_id", actor.Id);
        command.Parameters.Add(new NpgsqlParameter("address", NpgsqlDbType.Text) { Value = (object?)actor.Address ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("agent", NpgsqlDbType.Text) { Value = (object?)actor.UserAgent ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("before", NpgsqlDbType.Jsonb) { Value = (object?)change.Before?.GetRawText() ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("after", NpgsqlDbType.Jsonb) { Value = (object?)change.After?.GetRawText() ?? DBNull.Value });
        return command;
    }
}
