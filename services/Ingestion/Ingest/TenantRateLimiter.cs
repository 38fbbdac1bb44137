using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Tokage.Ingestion.Ingest;

/// <param name="LimiterUnavailable">Refused because Redis cannot be reached and the fallback is <see cref="RateLimitFallback.FailClosed"/>.</param>
public sealed record RateDecision(bool Allowed, TimeSpan RetryAfter, bool LimiterUnavailable = false);

/// <summary>
/// A token bucket per tenant in Redis, counted in events (not requests) and shared by every ingestion replica:
/// one Lua script takes the tokens atomically, with Redis's own clock so replicas' clocks do not matter. Without
/// Redis, <see cref="IngestOptions.RateLimitWhenRedisDown"/> decides: an in-memory bucket per tenant in this
/// instance (the default), no limit, or no ingestion.
/// </summary>
public sealed class TenantRateLimiter(IConnectionMultiplexer redis, IOptions<IngestOptions> options, TimeProvider time, ILogger<TenantRateLimiter> logger)
{
    private readonly ConcurrentDictionary<string, LocalBucket> localBuckets = new(StringComparer.Ordinal);
    private long lastWarning = long.MinValue / 2;

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
        // The bucket holds at least a second's events, in Redis and in the fallback alike.
        burst = Math.Max(burst, rate);
        try
        {
            var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(TakeScript, new
            {
                bucket = (RedisKey)$"tokage:ratelimit:{tenantId}",
                rate,
                burst,
                wanted = events,
            }).WaitAsync(options.Value.RateLimiterTimeout))!;
            return new RateDecision((long)result[0] == 1, TimeSpan.FromMilliseconds((long)result[1]));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            var fallback = options.Value.RateLimitWhenRedisDown;
            // Once per 10 s, not once per request: an outage would otherwise flood the log.
            var now = time.GetTimestamp();
            var last = Interlocked.Read(ref lastWarning);
            if (time.GetElapsedTime(last, now) > TimeSpan.FromSeconds(10) && Interlocked.CompareExchange(ref lastWarning, now, last) == last)
            {
                logger.LogWarning("Rate limiter unavailable ({Error}); tenants' limits fall back to {Fallback}.", ex.Message, fallback);
            }

            return fallback switch
            {
                RateLimitFallback.FailOpen => new RateDecision(true, TimeSpan.Zero),
                RateLimitFallback.FailClosed => new RateDecision(false, TimeSpan.FromSeconds(1), LimiterUnavailable: true),
                _ => localBuckets.GetOrAdd(tenantId, _ => new LocalBucket()).Take(rate, burst, events, time.GetUtcNow()),
            };
        }
    }

    /// <summary>The Lua script's bucket, in this process: the same refill, the same answer.</summary>
    private sealed class LocalBucket
    {
        private double tokens = double.NaN;
        private DateTimeOffset at;

        public RateDecision Take(int rate, int burst, int wanted, DateTimeOffset now)
        {
            lock (this)
            {
                tokens = double.IsNaN(tokens) ? burst : Math.Min(burst, tokens + Math.Max(0, (now - at).TotalMilliseconds) * rate / 1000);
                at = now;
                if (tokens >= wanted)
                {
                    tokens -= wanted;
                    return new RateDecision(true, TimeSpan.Zero);
                }

                return new RateDecision(false, TimeSpan.FromMilliseconds(Math.Ceiling((wanted - tokens) * 1000 / rate)));
            }
        }
    }
}
