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
    // A tenant's reservations wait here, in memory, and are decided in batches: one transaction takes the budgets' lock
    // once for every reservation waiting, decides them in arrival order (each sees the room the ones before it took) and
    // commits them together. Waiting on the row lock instead would hold a PostgreSQL connection per request (under load,
    // every one the server has) and pay a commit each.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TenantQueue> queues = new(StringComparer.Ordinal);

    private const int MaxBatch = 500;

    private sealed class TenantQueue
    {
        public SemaphoreSlim Turn { get; } = new(1, 1);

        public System.Collections.Concurrent.ConcurrentQueue<Pending> Waiting { get; } = new();
    }

    private sealed class Pending(string kind, string value, decimal estimateUsd, TimeSpan ttl, string reservationId)
    {
        // 0 waiting, 1 taken into a batch, 2 given up by its caller (a batch skips it).
        public int State;

        public string Kind { get; } = kind;

        public string Value { get; } = value;

        public decimal EstimateUsd { get; } = estimateUsd;

        public TimeSpan Ttl { get; } = ttl;

        public string ReservationId { get; } = reservationId;

        public TaskCompletionSource<ReservationAnswer> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public async Task<ReservationAnswer> ReserveAsync(
        string tenant, string kind, string value, decimal estimateUsd, TimeSpan ttl, string reservationId, CancellationToken cancellationToken)
    {
        var queue = queues.GetOrAdd(tenant, _ => new TenantQueue());
        var pending = new Pending(kind, value, estimateUsd, ttl, reservationId);
        queue.Waiting.Enqueue(pending);
        var giveUpAt = time.GetUtcNow() + options.Value.ReservationQueueTimeout;
        while (!pending.Answer.Task.IsCompleted)
        {
            var left = giveUpAt - time.GetUtcNow();
            bool myTurn;
            try
            {
                myTurn = left > TimeSpan.Zero && await queue.Turn.WaitAsync(left, cancellationToken);
            }
            catch (OperationCanceledException) when (Interlocked.CompareExchange(ref pending.State, 2, 0) == 0)
            {
                // The caller left before any batch took the request: no batch will reserve it now.
                throw;
            }

            if (!myTurn)
            {
                if (Interlocked.CompareExchange(ref pending.State, 2, 0) == 0)
                {
                    logger.LogWarning("Reservation {Reservation} refused as unavailable: the tenant's reservations queue is longer than {Timeout}.",
                        reservationId, options.Value.ReservationQueueTimeout);
                    throw new ReservationsUnavailableException(
                        "Reservations cannot be granted now: too many are waiting for this tenant's budgets. Nothing was reserved; retry shortly.", new TimeoutException());
                }

                // A batch has it already: its answer comes with that batch's commit.
                break;
            }

            try
            {
                if (!pending.Answer.Task.IsCompleted)
                {
                    await DecideBatchAsync(tenant, queue);
                }
            }
            finally
            {
                queue.Turn.Release();
            }
        }

        return await pending.Answer.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Takes what waits (up to <see cref="MaxBatch"/>) and decides it in one transaction; every taken request gets its answer or the failure.</summary>
    private async Task DecideBatchAsync(string tenant, TenantQueue queue)
    {
        var batch = new List<Pending>();
        while (batch.Count < MaxBatch && queue.Waiting.TryDequeue(out var next))
        {
            if (Interlocked.CompareExchange(ref next.State, 1, 0) == 0)
            {
                batch.Add(next);
            }
        }

        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            // The batch runs to its end whatever a caller does: its commit is every taken request's answer. An id that another
            // replica reserved at this very moment fails the insert (unique key); decided again, the batch finds its answer.
            List<(ReservationAnswer? Answer, string? Conflict)> answers;
            try
            {
                answers = await DecideInTransactionAsync(tenant, batch);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                answers = await DecideInTransactionAsync(tenant, batch);
            }

            for (var i = 0; i < batch.Count; i++)
            {
                if (answers[i].Conflict is { } conflict)
                {
                    batch[i].Answer.TrySetException(new ReservationConflictException(conflict));
                }
                else
                {
                    batch[i].Answer.TrySetResult(answers[i].Answer!);
                }
            }
        }
        catch (Exception ex) when (ReservationsUnavailableException.IsTransient(ex))
        {
            logger.LogWarning("{Count} reservation(s) refused as unavailable: {Error}", batch.Count, ex.Message);
            var unavailable = new ReservationsUnavailableException(
                "Reservations cannot be granted now: the budget store or the settlement marks are unreachable. Nothing was reserved; retry shortly.", ex);
            batch.ForEach(p => p.Answer.TrySetException(unavailable));
        }
        catch (Exception ex)
        {
            batch.ForEach(p => p.Answer.TrySetException(ex));
        }
    }

    private Task<List<(ReservationAnswer? Answer, string? Conflict)>> DecideInTransactionAsync(string tenant, List<Pending> batch) =>
        database.InTenantAsync(Guid.Parse(tenant), (connection, transaction) => DecideAsync(connection, transaction, tenant, batch, CancellationToken.None), CancellationToken.None);

    private async Task<List<(ReservationAnswer? Answer, string? Conflict)>> DecideAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string tenant, List<Pending> batch, CancellationToken cancellationToken)
    {
        // The budgets' lock is waited for at most this long, then the batch answers 503 rather than holding a connection.
        await using (var lockTimeout = new NpgsqlCommand("SET LOCAL lock_timeout = '5s'", connection, transaction))
        {
            await lockTimeout.ExecuteNonQueryAsync(cancellationToken);
        }

        var all = await TenantBudgets.AllAsync(connection, transaction, cancellationToken);
        var hardFor = batch.Select(p => (p.Kind, p.Value)).Distinct()
            .ToDictionary(scope => scope, scope => all.Where(b => b.HardLimit && b.Covers(scope.Kind, scope.Value)).ToList());
        var involved = hardFor.Values.SelectMany(b => b).DistinctBy(b => b.Id).OrderBy(b => b.Id).ToList();

        // ClickHouse is read before the lock (and shared between requests), so the lock waits on PostgreSQL alone.
        var now = time.GetUtcNow();
        var spent = await SpendAsync(tenant, involved, now, cancellationToken);
        if (involved.Count > 0)
        {
            // Batches on these budgets (from any replica) queue here, in one order (no deadlock), each seeing those granted before it.
            await using var lockBudgets = new NpgsqlCommand("SELECT id FROM budgets WHERE id = ANY(@ids) ORDER BY id FOR UPDATE", connection, transaction);
            lockBudgets.Parameters.AddWithValue("ids", involved.Select(b => b.Id).ToArray());
            await using var locked = await lockBudgets.ExecuteReaderAsync(cancellationToken);
            while (await locked.ReadAsync(cancellationToken))
            {
            }
        }

        var standings = (await StandingsAsync(connection, transaction, tenant, spent, now, settlementsRequired: true, cancellationToken)).ToDictionary(s => s.Budget.Id);
        var earlier = await EarlierAsync(connection, transaction, batch.Select(p => p.ReservationId).Distinct().ToArray(), cancellationToken);
        var answers = new List<(ReservationAnswer?, string?)>(batch.Count);
        var inserts = new List<(Pending Request, bool Granted, Guid[] Budgets, DateTimeOffset ExpiresAt)>();
        foreach (var request in batch)
        {
            var mine = hardFor[(request.Kind, request.Value)].Select(b => standings[b.Id]).ToList();
            if (earlier.TryGetValue(request.ReservationId, out var first))
            {
                // The same reservation asked again (a retry): the first answer stands, with what became of it since.
                answers.Add(first.Kind != request.Kind || first.Value != request.Value || first.EstimateUsd != request.EstimateUsd
                    ? (null, Conflict(request.ReservationId, first))
                    : (first.AnswerAt(request.ReservationId, now) with { RemainingUsd = Remaining(mine, 0m) }, null));
                continue;
            }

            // Granted only where every hard-limit budget has room for the estimate beside its spend and the room already held.
            var limitedBy = mine.Where(s => s.SpentUsd + s.ReservedUsd + request.EstimateUsd > s.Budget.AmountUsd).Select(s => s.Budget.Name).ToList();
            var granted = limitedBy.Count == 0;
            var expiresAt = now + request.Ttl;
            if (granted)
            {
                foreach (var standing in mine)
                {
                    standings[standing.Budget.Id] = standing with { ReservedUsd = standing.ReservedUsd + request.EstimateUsd };
                }
            }

            answers.Add((new ReservationAnswer(granted, request.ReservationId, Remaining(mine, granted ? request.EstimateUsd : 0m), granted ? expiresAt : null, limitedBy), null));
            earlier[request.ReservationId] = new EarlierReservation(granted, expiresAt, false, request.Kind, request.Value, request.EstimateUsd);
            inserts.Add((request, granted, granted ? mine.Select(s => s.Budget.Id).Order().ToArray() : [], expiresAt));
        }

        if (inserts.Count > 0)
        {
            await using var insert = new NpgsqlBatch(connection, transaction);
            foreach (var (request, granted, budgets, expiresAt) in inserts)
            {
                var command = new NpgsqlBatchCommand("""
                    INSERT INTO budget_reservations (tenant_id, reservation_id, scope_kind, scope_value, estimated_cost_usd, budget_ids, granted, created_at, expires_at)
                    VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9)
                    """);
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = request.ReservationId });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = request.Kind });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = request.Value });
                command.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = request.EstimateUsd });
                command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = budgets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
                command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = granted });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = expiresAt });
                insert.BatchCommands.Add(command);
            }

            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        return answers;
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

    /// <summary>An earlier reservation under one id: what was asked and what became of it.</summary>
    private sealed record EarlierReservation(bool Granted, DateTimeOffset ExpiresAt, bool Released, string Kind, string Value, decimal EstimateUsd)
    {
        /// <summary>Its answer as it stands now: a grant released or expired since is no grant any more.</summary>
        public ReservationAnswer AnswerAt(string reservationId, DateTimeOffset now)
        {
            var live = Granted && !Released && ExpiresAt > now;
            return new ReservationAnswer(live, reservationId, null, live ? ExpiresAt : null, []);
        }
    }

    private static string Conflict(string reservationId, EarlierReservation first) =>
        $"Reservation '{reservationId}' was made for another scope or estimate ({first.Kind.ToLowerInvariant()} '{first.Value}', " +
        $"{first.EstimateUsd.ToString(System.Globalization.CultureInfo.InvariantCulture)} USD); use a new id for a new reservation.";

    private static async Task<Dictionary<string, EarlierReservation>> EarlierAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string[] reservationIds, CancellationToken cancellationToken)
    {
        await using var find = new NpgsqlCommand(
            "SELECT reservation_id, granted, expires_at, released_at IS NOT NULL, scope_kind, scope_value, estimated_cost_usd FROM budget_reservations " +
            "WHERE reservation_id = ANY(@ids)", connection, transaction);
        find.Parameters.AddWithValue("ids", reservationIds);
        var earlier = new Dictionary<string, EarlierReservation>(StringComparer.Ordinal);
        await using var reader = await find.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            earlier[reader.GetString(0)] = new EarlierReservation(reader.GetBoolean(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetBoolean(3),
                reader.GetString(4), reader.GetString(5), reader.GetDecimal(6));
        }

        return earlier;
    }

    /// <summary>The least room left in any hard-limit budget after <paramref name="taken"/>; null when none limits the scope.</summary>
    private static decimal? Remaining(IReadOnlyList<BudgetStanding> standings, decimal taken) =>
        standings.Count == 0 ? null : standings.Min(s => Math.Max(0m, s.Budget.AmountUsd - s.SpentUsd - s.ReservedUsd - taken));
}
