using Npgsql;

namespace Tokage.Integrations;

/// <summary>Work in one tenant's Row-Level Security scope: a transaction whose <c>tokage.tenant_id</c> setting ends with it.</summary>
public static class TenantTransactions
{
    public static async Task<T> InTenantAsync<T>(
        this NpgsqlDataSource database, Guid tenant, Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var scope = new NpgsqlCommand("SELECT set_config('tokage.tenant_id', @tenant, true)", connection, transaction))
        {
            scope.Parameters.AddWithValue("tenant", tenant.ToString());
            await scope.ExecuteScalarAsync(cancellationToken);
        }

        var result = await work(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }
}
