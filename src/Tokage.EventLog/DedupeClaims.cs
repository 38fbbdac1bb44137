using StackExchange.Redis;

namespace Tokage.EventLog;

/// <summary>What a claim on an event id found.</summary>
public enum ClaimResult
{
    /// <summary>The first record with this id: it is processed.</summary>
    New,

    /// <summary>The record that claimed the id before, read again (a crash or failed write before the commit): processed again, idempotently.</summary>
    Replay,

    /// <summary>Another record with an id already claimed: a duplicate of <see cref="Claim.FirstPosition"/>.</summary>
    Duplicate,
}

public readonly record struct Claim(ClaimResult Result, string FirstPosition);

/// <summary>
/// Deduplication on (tenant, event id) for the dedupe window, in Redis: the claim's value is the log position of the
/// first record with that id. A claim therefore never loses an event whose write failed — the same record comes
/// back from the log, finds its own position, and goes through — while another record with the id is a duplicate.
/// One script call claims a whole batch, in order (a repeat within the batch is a duplicate of the first).
/// </summary>
public sealed class DedupeClaims(IConnectionMultiplexer redis)
{
    // ARGV[1] = window in seconds, ARGV[i + 1] = the position of KEYS[i]. Answers the position that holds each key.
    private const string Script = """
        local answers = {}
        for i, key in ipairs(KEYS) do
            local position = ARGV[i + 1]
            if redis.call('SET', key, position, 'NX', 'EX', ARGV[1]) then
                answers[i] = ''
            else
                answers[i] = redis.call('GET', key) or ''
            end
        end
        return answers
        """;

    public static string Key(string tenantId, string eventId) => $"tokage:dedupe:{tenantId}:{eventId}";

    public async Task<Claim[]> ClaimAsync(IReadOnlyList<(string TenantId, string EventId, string Position)> events, TimeSpan window)
    {
        if (events.Count == 0)
        {
            return [];
        }

        var keys = new RedisKey[events.Count];
        var values = new RedisValue[events.Count + 1];
        values[0] = (long)window.TotalSeconds;
        for (var i = 0; i < events.Count; i++)
        {
            keys[i] = Key(events[i].TenantId, events[i].EventId);
            values[i + 1] = events[i].Position;
        }

        var answers = (RedisValue[])(await redis.GetDatabase().ScriptEvaluateAsync(Script, keys, values))!;
        var claims = new Claim[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            var holder = answers[i].ToString();
            claims[i] = holder.Length == 0 ? new Claim(ClaimResult.New, events[i].Position)
                : holder == events[i].Position ? new Claim(ClaimResult.Replay, holder)
                : new Claim(ClaimResult.Duplicate, holder);
        }

        return claims;
    }

    /// <summary>The position that claimed the id, if any (event status: accepted and being processed).</summary>
    public async Task<string?> HolderAsync(string tenantId, string eventId)
    {
        var value = await redis.GetDatabase().StringGetAsync(Key(tenantId, eventId));
        return value.IsNull ? null : value.ToString();
    }
}
