using StackExchange.Redis;

namespace Tokage.Ingestion.Ingest;

public sealed record RateDecision(bool Allowed, TimeSpan RetryAfter);

/// <summary>
/// A token bucket per tenant in Redis, counted in events (not requests) and shared by every ingestion replica:
/// one Lua script takes the tokens atomically, with Redis's own clock so replicas' clocks do not matter.
/// </summary>
public sealed class TenantRateLimiter(IConnectionMultiplexer redis, ILogger<TenantRateLimiter> logger)
{
    // KEYS[1]: the bucket. ARGV: rate (events/s), burst, events wanted. Returns {allowed, retry_after_ms}.
    private static readonly LuaScript TakeScript = LuaScript.Prepare("""
        local now_parts = redis.call('TIME')
        local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
        local rate = tonumber(@rate)
        local burst = tonumber(@burst)
        local wanted = tonumber(@wanted)
        local state = redis.call('HMGET', @bucket, 'tokens', 'at')
        local tokens = tonumber(state[1])
        local at = tonumber(state[2])
        if tokens == nil then tokens = burst; at = now end
        tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
        local allowed = 0
        local retry = 0
        if tokens >= wanted then
          tokens = tokens - wanted
          allowed = 1
        else
          retry = math.ceil((wanted - tokens) * 1000 / rate)
        end
        redis.call('HSET', @bucket, 'tokens', tostring(tokens), 'at', now)
        redis.call('PEXPIRE', @bucket, math.ceil(burst * 1000 / rate) + 60000)
        return {allowed, retry}
        """);

    public async Task<RateDecision> TryTakeAsync(string tenantId, int eventsPerSecond, int burst, int events)
    {
        var rate = Math.Max(eventsPerSecond, 1);
        try
        {
            var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(TakeScript, new
            {
                bucket = (RedisKey)$"tokage:ratelimit:{tenantId}",
                rate,
                burst = Math.Max(burst, rate),
                wanted = events,
            }))!;
            return new RateDecision((long)result[0] == 1, TimeSpan.FromMilliseconds((long)result[1]));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Usage is never dropped for want of a limiter: without Redis the limit is not enforced, and the log still decides.
            logger.LogWarning("Rate limiter unavailable ({Error}); admitting {Events} event(s) of {Tenant} unlimited.", ex.Message, events, tenantId);
            return new RateDecision(true, TimeSpan.Zero);
        }
    }
}
