using Npgsql;
using NpgsqlTypes;

namespace Tokage.Auth.Keys;

/// <summary>A key's row as the control plane keeps it, joined with its tenant.</summary>
internal sealed record StoredKey(
    Guid KeyId, Guid TenantId, string TenantName, string TenantStatus, bool TestMode, string[] Scopes,
    int EventsPerSecond, int Burst, DateTimeOffset? ExpiresAt, bool Revoked, string? Role, Guid? MemberId, string? ScopeKind, string? ScopeValue);

/// <summary>
/// Reads keys from PostgreSQL through <c>tokage_resolve_api_key(hash)</c>: the one cross-tenant read, a
/// SECURITY DEFINER function the control plane's migration owns. The auth service's role can call it and
/// nothing else of the key table.
/// </summary>
internal sealed class KeyStore(NpgsqlDataSource dataSource)
{
    public async Task<StoredKey?> FindAsync(byte[] hash, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT key_id, tenant_id, tenant_name, tenant_status, test_mode, scopes, rate_per_second, rate_burst, expires_at, revoked, role, member_id, scope_kind, scope_value " +
            "FROM tokage_resolve_api_key($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = hash, NpgsqlDbType = NpgsqlDbType.Bytea });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new StoredKey(
            reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetBoolean(4),
            reader.GetFieldValue<string[]>(5), reader.GetInt32(6), reader.GetInt32(7),
            reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8), reader.GetBoolean(9),
            reader.IsDBNull(10) ? null : reader.GetString(10), reader.IsDBNull(11) ? null : reader.GetGuid(11),
            reader.IsDBNull(12) ? null : reader.GetString(12), reader.IsDBNull(13) ? null : reader.GetString(13));
    }

    /// <summary>Ready once the control plane has created the lookup function.</summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT to_regprocedure('tokage_resolve_api_key(bytea)') IS NOT NULL");
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
