using StackExchange.Redis;

namespace Tokage.EventLog;

/// <summary>
/// Which budget reservations stored events have settled, in Redis. The processor marks a reservation once the events
/// naming it are in ClickHouse, raw rows and rollups alike (after the insert returned: a raw row alone can show before
/// its rollups do, and room freed then would be room counted nowhere). The query API reads the marks: a settled
/// reservation holds no room, its event's cost counts as spend instead. A mark outlives the longest reservation.
/// </summary>
public sealed class ReservationSettlements(IConnectionMultiplexer redis)
{
    /// <summary>The longest a reservation may live.</summary>
    public static readonly TimeSpan MaxReservationTtl = TimeSpan.FromHours(1);

    private static readonly TimeSpan Keep = MaxReservationTtl * 2;

    public static string Key(string tenantId, string reservationId) => $"tokage:reservation:settled:{tenantId}:{reservationId}";

    public async Task MarkAsync(IEnumerable<(string TenantId, string ReservationId)> settled)
    {
        var keys = settled.Distinct().Select(s => Key(s.TenantId, s.ReservationId)).ToList();
        if (keys.Count == 0)
        {
            return;
        }

        // When: after the events' ClickHouse insert, so a spend read that started later counts their cost.
        var at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var batch = redis.GetDatabase().CreateBatch();
        var writes = keys.Select(k => batch.StringSetAsync(k, at, Keep)).ToList();
        batch.Execute();
        await Task.WhenAll(writes);
    }

    /// <summary>
    /// The ones of <paramref name="reservationIds"/> that a stored event of the tenant settled before <paramref name="before"/>
    /// (any time, when null). A mark without a time (written before marks had one) counts as long settled.
    /// </summary>
    public async Task<HashSet<string>> SettledAsync(string tenantId, IReadOnlyList<string> reservationIds, DateTimeOffset? before = null)
    {
        if (reservationIds.Count == 0)
        {
            return [];
        }

        var values = await redis.GetDatabase().StringGetAsync(reservationIds.Select(id => (RedisKey)Key(tenantId, id)).ToArray());
        var limit = before?.ToUnixTimeMilliseconds() ?? long.MaxValue;
        return reservationIds.Where((_, i) => values[i].HasValue && (long)values[i] < limit).ToHashSet(StringComparer.Ordinal);
    }
}
