using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Tokage.ControlPlane.Data;

public static class TenantScope
{
    /// <summary>The session setting the Row-Level Security policies read.</summary>
    public const string Setting = "tokage.tenant_id";

    /// <summary>
    /// A transaction in which the database shows and accepts only <paramref name="tenantId"/>'s rows
    /// (<c>set_config(…, is_local =&gt; true)</c>: the setting ends with the transaction, so a pooled connection
    /// never carries it into another request).
    /// </summary>
    public static async Task<IDbContextTransaction> BeginTenantScopeAsync(this ControlPlaneDbContext db, Guid tenantId, CancellationToken cancellationToken)
    {
        var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT set_config('tokage.tenant_id', {tenantId.ToString()}, true)", cancellationToken);
        return transaction;
    }
}
