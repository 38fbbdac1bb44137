using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Tokage.Analytics.Queries;

namespace Tokage.QueryApi.Entitlements;

/// <summary>A budget's period-to-date spend as ClickHouse answered a query that started at <see cref="AsOf"/>.</summary>
internal readonly record struct SpendReading(decimal SpentUsd, DateTimeOffset AsOf);

/// <summary>
/// Budget spend for the entitlement endpoints, read from ClickHouse at most once per budget and period every
/// <see cref="QueryApiOptions.BudgetSpendMaxAge"/>, however many checks and reservations ask meanwhile (they share the
/// read in flight). Reservations read it before they take the budget's lock, so the lock is held for PostgreSQL alone.
/// A reading knows when its query started: a reservation settled after that is still counted as held room (its event's
/// cost may not be in the reading), so a stale reading errs on the side of the limit, never past it.
/// </summary>
internal sealed class BudgetSpendCache(BudgetSpend spend, TimeProvider time, IOptions<QueryApiOptions> options)
{
    // One reading per budget (its period's): a new period replaces the last one's, so the cache holds no more entries than budgets.
    private readonly ConcurrentDictionary<(string Tenant, Guid Budget), (DateTimeOffset WindowStart, Task<SpendReading> Reading)> readings = new();

    public async Task<SpendReading> GetAsync(string tenant, BudgetRow budget, BudgetWindow window, CancellationToken cancellationToken)
    {
        var key = (tenant, budget.Id);
        while (true)
        {
            var entry = readings.GetOrAdd(key, _ => (window.Start, ReadAsync(tenant, budget, window)));
            var reading = entry.Reading;
            if (entry.WindowStart == window.Start
                && (!reading.IsCompleted || (reading.IsCompletedSuccessfully && time.GetUtcNow() - reading.Result.AsOf <= options.Value.BudgetSpendMaxAge)))
            {
                // Shared by every caller: one caller giving up must not cancel the others' read.
                return await reading.WaitAsync(cancellationToken);
            }

            // Of another period, too old, or failed (the next caller tries again): replaced by whoever gets here first.
            readings.TryRemove(KeyValuePair.Create(key, entry));
        }
    }

    private async Task<SpendReading> ReadAsync(string tenant, BudgetRow budget, BudgetWindow window)
    {
        var started = time.GetUtcNow();
        var spent = await spend.InWindowAsync(tenant, BudgetScope.Dimension(budget.ScopeKind), budget.ScopeValue, window, CancellationToken.None);
        return new SpendReading(spent, started);
    }
}
