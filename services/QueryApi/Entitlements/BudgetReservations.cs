using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;
using Tokage.Analytics.Queries;
using Tokage.EventLog;
using Tokage.Integrations;

namespace Tokage.QueryApi.Entitlements;

/// <summary>What a reservation request came to.</summary>
internal sealed record ReservationAnswer(bool Granted, string ReservationId, decimal? RemainingUsd, DateTimeOffset? ExpiresAt, IReadOnlyList<string> LimitedBy);

/// <summary>Reservations cannot be granted or counted now (PostgreSQL, Redis or ClickHouse unable to answer): refused, never assumed.</summary>
internal sealed class ReservationsUnavailableException(string message, Exception inner) : Exception(message, inner)
{
    /// <summary>
    /// Whether <paramref name="exception"/> is the engines not answering now — unreachable, timed out, a lock not had in
    /// time, a server shutting down or out of connections, ClickHouse refusing the spend query — rather than a bug.
    /// </summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        PostgresException p => p.SqlState.StartsWith("08", StringComparison.Ordinal) || p.SqlState.StartsWith("53", StringComparison.Ordinal)
            || p.SqlState.StartsWith("57", StringComparison.Ordinal) || p.SqlState is PostgresErrorCodes.SerializationFailure
            or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.UndefinedTable,
        NpgsqlException or RedisException or TimeoutException or HttpRequestException or ClickHouse.Driver.ClickHouseServerException => true,
        _ => false,
    };
}

/// <summary>The same reservation id asked again with another scope or estimate: the first request's stands, this one is refused.</summary>
internal sealed class ReservationConflictException(string message) : Exception(message);

/// <summary>
/// Budget reservations: before a call, an app asks for room in the hard-limit budgets that cover its scope. Granting
/// is atomic against each budget's amount minus its period-to-date spend minus the room live reservations hold:
/// concurrent requests on a budget queue on its row (<c>SELECT … FOR UPDATE</c>), so each sees every reservation
/// granted before it. A reservation is live until released, expired, or settled by a stored event that names it
/// (<see cref="ReservationSettlements"/>); a settled one holds no room, its event's cost counts as spend.
/// </summary>
internal sealed class BudgetReservations(
    NpgsqlDataSource database, BudgetSpendCache spend, ReservationSettlements settlements, TimeProvider time, Microsoft.Extensions.Options.IOptions<QueryApiOptions> options,
    ILogger<BudgetReservations> logger)
{
    // A tenant's reservations queue here, in memory, one at a time per replica: they would queue on the budget's row lock
    // anyway, and each waiting there would hold a PostgreSQL connection (under load, every one the server has).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> queues = new(StringComparer.Ordinal);

    public async Task<ReservationAnswer> ReserveAsync(
        string tenant, string kind, string value, decimal estimateUsd, TimeSpan ttl, string reservationId, CancellationToken cancellationToken)
    {
        var queue = queues.GetOrAdd(tenant, _ => new SemaphoreSlim(1, 1));
        if (!await queue.WaitAsync(options.Value.ReservationQueueTimeout, cancellationToken))
        {
            logger.LogWarning("Reservation {Reservation} refused as unavailable: the tenant's reservations queue is longer than {Timeout}.",
                reservationId, options.Value.ReservationQueueTimeout);
            throw new ReservationsUnavailableException(
                "Reservations cannot be granted now: too many are waiting for this tenant's budgets. Nothing was reserved; retry shortly.", new TimeoutException());
        }

        try
        {
            return await ReserveInQueueAsync(tenant, kind, value, estimateUsd, ttl, reservationId, cancellationToken);
        }
        finally
        {
            queue.Release();
        }
    }

    private async Task<ReservationAnswer> ReserveInQueueAsync(
        string tenant, string kind, string value, decimal estimateUsd, TimeSpan ttl, string reservationId, CancellationToken cancellationToken)
    {
        try
        {
            return await database.InTenantAsync(Guid.Parse(tenant), async (connection, transaction) =>
            {
                // A grant waits at most this long for the budgets' lock, then answers 503 rather than holding a connection.
                await using (var lockTimeout = new NpgsqlCommand("SET LOCAL lock_timeout = '5s'", connection, transaction))
                {
                    await lockTimeout.ExecuteNonQueryAsync(cancellationToken);
                }

                var hard = (await TenantBudgets.CoveringAsync(connection, transaction, kind, value, cancellationToken)).Where(b => b.HardLimit).ToList();
                var ids = hard.Select(b => b.Id).Order().ToArray();

                // ClickHouse is read before the lock (and shared between requests), so the lock waits on PostgreSQL alone.
                var now = time.GetUtcNow();
                var spent = await SpendAsync(tenant, hard, now, cancellationToken);
                if (ids.Length > 0)
                {
                    // Reservations on these budgets queue here, in one order (no deadlock), each seeing those granted before it.
                    await using var lockBudgets = new NpgsqlCommand("SELECT id FROM budgets WHERE id = ANY(@ids) ORDER BY id FOR UPDATE", connection, transaction);
                    lockBudgets.Parameters.AddWithValue("ids", ids);
                    await using var locked = await lockBudgets.ExecuteReaderAsync(cancellationToken);
                    while (await locked.ReadAsync(cancellationToken))
                    {
                    }
                }

                var standings = await StandingsAsync(connection, transaction, tenant, spent, now, settlementsRequired: true, cancellationToken);
                if (await FindAsync(connection, transaction, reservationId, now, kind, value, estimateUsd, cancellationToken) is { } earlier)
                {
                    // The same reservation asked again (a retry): the first answer stands, with what became of it since.
                    return earlier with { RemainingUsd = Remaining(standings, 0m) };
                }

                // Granted only where every hard-limit budget has room for the estimate beside its spend and the room already held.
                var limitedBy = standings.Where(s => s.SpentUsd + s.ReservedUsd + estimateUsd > s.Budget.AmountUsd).Select(s => s.Budget.Name).ToList();
                var granted = limitedBy.Count == 0;
                var expiresAt = now + ttl;
                await using (var insert = new NpgsqlCommand("""
                    INSERT INTO budget_reservations (tenant_id, reservation_id, scope_kind, scope_value, estimated_cost_usd, budget_ids, granted, created_at, expires_at)
                    VALUES (@tenant::uuid, @id, @kind, @value, @estimate, @budgets, @granted, @now, @expires)
                    ON CONFLICT (tenant_id, reservation_id) DO NOTHING
                    """, connection, transaction))
                {
                    insert.Parameters.AddWithValue("tenant", tenant);
                    insert.Parameters.AddWithValue("id", reservationId);
                    insert.Parameters.AddWithValue("kind", kind);
                    insert.Parameters.AddWithValue("value", value);
                    insert.Parameters.AddWithValue("estimate", estimateUsd);
                    insert.Parameters.AddWithValue("budgets", NpgsqlDbType.Array | NpgsqlDbType.Uuid, granted ? ids : Array.Empty<Guid>());
                    insert.Parameters.AddWithValue("granted", granted);
                    insert.Parameters.AddWithValue("now", now);
                    insert.Parameters.AddWithValue("expires", expiresAt);
                    if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
                    {
                        // The same id was reserved at this very moment by a retry that won: its answer stands.
                        var winner = await FindAsync(connection, transaction, reservationId, now, kind, value, estimateUsd, cancellationToken);
                        return winner! with { RemainingUsd = Remaining(standings, 0m) };
                    }
                }

                return new ReservationAnswer(granted, reservationId, Remaining(standings, granted ? estimateUsd : 0m), granted ? expiresAt : null, limitedBy);
            }, cancellationToken);
        }
        catch (Exception ex) when (ReservationsUnavailableException.IsTransient(ex))
        {
            logger.LogWarning("Reservation {Reservation} refused as unavailable: {Error}", reservationId, ex.Message);
            throw new ReservationsUnavailableException(
                "Reservations cannot be granted now: the budget store or the settlement marks are unreachable. Nothing was reserved; retry shortly.", ex);
        }
    }

    /// <summary>Releases a reservation before it expires; false when the tenant has none by that id.</summary>
    public async Task<bool> ReleaseAsync(string tenant, string reservationId, CancellationToken cancellationToken)
    {
        return await database.InTenantAsync(Guid.Parse(tenant), async (connection, transaction) =>
        {
            await using var release = new NpgsqlCommand(
                "UPDATE budget_reservations SET released_at = coalesce(released_at, @now) WHERE reservation_id = @id", connection, transaction);
            release.Parameters.AddWithValue("now", time.GetUtcNow());
            release.Parameters.AddWithValue("id", reservationId);
            return await release.ExecuteNonQueryAsync(cancellationToken) > 0;
        }, cancellationToken);
    }

    /// <summary>
    /// Each budget's spend in its current period and the room live reservations hold in it. Without the settlement
    /// marks (Redis away) every live reservation is counted as still held: a check errs on the side of the limit.
    /// </summary>
    public async Task<List<BudgetStanding>> StandingsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string tenant, IReadOnlyList<BudgetRow> budgets, DateTimeOffset now,
        CancellationToken cancellationToken, bool settlementsRequired = true) =>
        await StandingsAsync(connection, transaction, tenant, await SpendAsync(tenant, budgets, now, cancellationToken), now, settlementsRequired, cancellationToken);

    private async Task<List<(BudgetRow Budget, BudgetWindow Window, SpendReading Spend)>> SpendAsync(
        string tenant, IReadOnlyList<BudgetRow> budgets, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var spent = new List<(BudgetRow, BudgetWindow, SpendReading)>(budgets.Count);
        foreach (var budget in budgets)
        {
            var window = budget.WindowAt(now);
            spent.Add((budget, window, await spend.GetAsync(tenant, budget, window, cancellationToken)));
        }

        return spent;
    }

    private async Task<List<BudgetStanding>> StandingsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string tenant,
        List<(BudgetRow Budget, BudgetWindow Window, SpendReading Spend)> spent, DateTimeOffset now, bool settlementsRequired, CancellationToken cancellationToken)
    {
        // A reservation settled after the oldest spend reading began may not be in it: it still holds its room.
        var hard = spent.Where(s => s.Budget.HardLimit).ToList();
        var settledBefore = hard.Count == 0 ? now : hard.Min(s => s.Spend.AsOf) - options.Value.SettlementClockSkew;
        var held = hard.Count > 0
            ? await HeldAsync(connection, transaction, tenant, hard.Select(s => s.Budget.Id).ToArray(), now, settledBefore, settlementsRequired, cancellationToken)
            : new Dictionary<Guid, decimal>();
        return spent.Select(s => new BudgetStanding(s.Budget, s.Window, s.Spend.SpentUsd, held.GetValueOrDefault(s.Budget.Id))).ToList();
    }

    private async Task<Dictionary<Guid, decimal>> HeldAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string tenant, Guid[] budgetIds,
        DateTimeOffset now, DateTimeOffset settledBefore, bool settlementsRequired, CancellationToken cancellationToken)
    {
        var live = new List<(string Id, decimal Amount, Guid[] Budgets)>();
        await using (var command = new NpgsqlCommand("""
            SELECT reservation_id, estimated_cost_usd, budget_ids FROM budget_reservations
            WHERE granted AND released_at IS NULL AND expires_at > @now AND budget_ids && @budgets
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("now", now);
            command.Parameters.AddWithValue("budgets", budgetIds);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                live.Add((reader.GetString(0), reader.GetDecimal(1), reader.GetFieldValue<Guid[]>(2)));
            }
        }

        HashSet<string> settled;
        try
        {
            settled = await settlements.SettledAsync(tenant, live.Select(r => r.Id).ToList(), settledBefore);
        }
        catch (Exception ex) when (!settlementsRequired && ex is RedisException or TimeoutException)
        {
            settled = [];
        }

        var held = new Dictionary<Guid, decimal>();
        foreach (var reservation in live.Where(r => !settled.Contains(r.Id)))
        {
            foreach (var budget in reservation.Budgets)
            {
                held[budget] = held.GetValueOrDefault(budget) + reservation.Amount;
            }
        }

        return held;
    }

    /// <summary>
    /// An earlier request with this id: its answer as it stands now (a grant released or expired since is no grant any
    /// more), or a conflict when it asked for another scope or estimate.
    /// </summary>
    private static async Task<ReservationAnswer?> FindAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string reservationId,
        DateTimeOffset now, string kind, string value, decimal estimateUsd, CancellationToken cancellationToken)
    {
        await using var find = new NpgsqlCommand(
            "SELECT granted, expires_at, released_at IS NOT NULL, scope_kind, scope_value, estimated_cost_usd FROM budget_reservations WHERE reservation_id = @id",
            connection, transaction);
        find.Parameters.AddWithValue("id", reservationId);
        await using var reader = await find.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        if (reader.GetString(3) != kind || reader.GetString(4) != value || reader.GetDecimal(5) != estimateUsd)
        {
            throw new ReservationConflictException(
                $"Reservation '{reservationId}' was made for another scope or estimate ({reader.GetString(3).ToLowerInvariant()} '{reader.GetString(4)}', " +
                $"{reader.GetDecimal(5).ToString(System.Globalization.CultureInfo.InvariantCulture)} USD); use a new id for a new reservation.");
        }

        var expiresAt = reader.GetFieldValue<DateTimeOffset>(1);
        var live = reader.GetBoolean(0) && !reader.GetBoolean(2) && expiresAt > now;
        return new ReservationAnswer(live, reservationId, null, live ? expiresAt : null, []);
    }

    /// <summary>The least room left in any hard-limit budget after <paramref name="taken"/>; null when none limits the scope.</summary>
    private static decimal? Remaining(IReadOnlyList<BudgetStanding> standings, decimal taken) =>
        standings.Count == 0 ? null : standings.Min(s => Math.Max(0m, s.Budget.AmountUsd - s.SpentUsd - s.ReservedUsd - taken));
}
