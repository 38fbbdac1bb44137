using Npgsql;
using Tokage.Analytics.Queries;

namespace Tokage.QueryApi.Entitlements;

/// <summary>A budget as the entitlement endpoints read it.</summary>
internal sealed record BudgetRow(Guid Id, string Name, string ScopeKind, string ScopeValue, string Period, string TimeZone, decimal AmountUsd, bool HardLimit)
{
    /// <summary>Whether the budget covers the scope: the tenant's covers every scope, a scoped one its own.</summary>
    public bool Covers(string kind, string value) => ScopeKind == "Tenant" || (ScopeKind == kind && ScopeValue == value);

    public BudgetWindow WindowAt(DateTimeOffset now) =>
        BudgetWindow.Containing(Enum.Parse<BudgetPeriodKind>(Period, ignoreCase: true), TimeZoneInfo.FindSystemTimeZoneById(TimeZone), now);
}

/// <summary>Where a budget stands now: its period, the usage stored in it, and the room live reservations hold.</summary>
internal sealed record BudgetStanding(BudgetRow Budget, BudgetWindow Window, decimal SpentUsd, decimal ReservedUsd)
{
    public decimal RemainingUsd => Math.Max(0m, Budget.AmountUsd - SpentUsd - ReservedUsd);

    /// <summary>Spend and held room reach the amount: a hard limit denies from here.</summary>
    public bool Exceeded => SpentUsd + ReservedUsd >= Budget.AmountUsd;
}

/// <summary>The tenant's budgets, read as the application role inside the tenant's RLS scope (<see cref="Tokage.Integrations.TenantTransactions"/>).</summary>
internal static class TenantBudgets
{
    /// <summary>The budgets on this scope and on the tenant as a whole (which covers every scope), by name.</summary>
    public static async Task<List<BudgetRow>> CoveringAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string kind, string value, CancellationToken cancellationToken) =>
        (await AllAsync(connection, transaction, cancellationToken)).Where(b => b.Covers(kind, value)).ToList();

    /// <summary>Every budget of the tenant, by name.</summary>
    public static async Task<List<BudgetRow>> AllAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT id, name, scope_kind, scope_value, period, time_zone, amount_usd, hard_limit FROM budgets ORDER BY name", connection, transaction);
        var budgets = new List<BudgetRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            budgets.Add(new BudgetRow(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetString(5), reader.GetDecimal(6), reader.GetBoolean(7)));
        }

        return budgets;
    }
}
