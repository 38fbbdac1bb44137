using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using StackExchange.Redis;
using Tokage.ApiKeys;

namespace Tokage.Auth.Keys;

/// <summary>
/// The auth service's Redis cache of key resolutions, behind a circuit breaker: when Redis is slow or gone,
/// calls fail fast (<see cref="CacheUnavailable"/>) and the database answers instead. Entries are signed with a key
/// Redis never sees, so writing to Redis forges no key; a changed key's tombstone keeps a stale answer out.
/// </summary>
internal sealed class KeyCache
{
    private readonly IConnectionMultiplexer redis;
    private readonly AuthOptions options;
    private readonly ILogger<KeyCache> logger;
    private readonly ResiliencePipeline breaker;
    private readonly byte[] signingKey;

    public KeyCache(IConnectionMultiplexer redis, IOptions<AuthOptions> options, ILogger<KeyCache> logger)
    {
        this.redis = redis;
        this.options = options.Value;
        this.logger = logger;
        signingKey = Encoding.UTF8.GetBytes(this.options.CacheSigningKey);
        breaker = new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(10),
                BreakDuration = this.options.RedisBreakDuration,
                ShouldHandle = new PredicateBuilder().Handle<RedisException>().Handle<TimeoutException>(),
                OnOpened = _ =>
                {
                    logger.LogWarning("Redis circuit open: keys resolve from PostgreSQL for {Duration}.", this.options.RedisBreakDuration);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    logger.LogInformation("Redis circuit closed: the key cache is back.");
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>Thrown when Redis cannot be asked; the caller goes to the database.</summary>
    public sealed class CacheUnavailable(Exception inner) : Exception("The key cache is unavailable.", inner);

    /// <summary>
    /// The cached entry, null when there is none, when the key changed lately (a tombstone) or when the entry is not
    /// one this service signed for this very key (forged, or copied from another key's): then the database answers.
    /// </summary>
    public async Task<CachedKey?> GetAsync(string hashHex, CancellationToken cancellationToken)
    {
        var value = await RunAsync(db => db.StringGetAsync(ApiKeyCache.EntryKey(hashHex)), cancellationToken);
        if (value.IsNullOrEmpty || value == ApiKeyCache.Tombstone)
        {
            return null;
        }

        var text = value.ToString();
        var cut = text.LastIndexOf('\n');
        Span<byte> signature = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (cut > 0 && Convert.TryFromBase64String(text[(cut + 1)..], signature, out var length) && length == signature.Length
            && CryptographicOperations.FixedTimeEquals(signature, Sign(hashHex, text[..cut])))
        {
            return JsonSerializer.Deserialize<CachedKey>(text[..cut]);
        }

        logger.LogWarning("Ignored a key-cache entry in Redis that this service did not sign for its key (key hash {Prefix}…); resolving from PostgreSQL.", hashHex[..12]);
        return null;
    }

    /// <summary>Caches an entry; a failure only costs the next lookup a database read.</summary>
    public async Task TrySetAsync(string hashHex, CachedKey entry, CancellationToken cancellationToken)
    {
        var ttl = entry.Found ? options.CacheTtl : options.NegativeCacheTtl;
        if (entry.ExpiresAtUnixMs is { } expires)
        {
            var left = DateTimeOffset.FromUnixTimeMilliseconds(expires) - DateTimeOffset.UtcNow;
            ttl = left < ttl ? left : ttl;
        }

        if (ttl <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            // Only where no entry is: a tombstone (the key changed since) or a forged entry is never overwritten by
            // an answer that may predate the change; it expires on its own.
            var json = JsonSerializer.Serialize(entry);
            var signed = json + "\n" + Convert.ToBase64String(Sign(hashHex, json));
            await RunAsync(db => db.StringSetAsync(ApiKeyCache.EntryKey(hashHex), signed, ttl, When.NotExists), cancellationToken);
        }
        catch (CacheUnavailable ex)
        {
            logger.LogDebug(ex, "Could not cache a key resolution.");
        }
    }

    /// <summary>HMAC-SHA-256 over the key's hash and the entry, so an entry is good for its own key only.</summary>
    private byte[] Sign(string hashHex, string json) =>
        HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes(hashHex + "\n" + json));

    private async Task<T> RunAsync<T>(Func<IDatabase, Task<T>> command, CancellationToken cancellationToken)
    {
        try
        {
            // StackExchange.Redis queues commands while it reconnects; the timeout keeps a down Redis from holding requests.
            return await breaker.ExecuteAsync(
                async token => await command(redis.GetDatabase()).WaitAsync(options.RedisTimeout, token),
                cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or BrokenCircuitException)
        {
            throw new CacheUnavailable(ex);
        }
    }
}

/// <summary>A key's resolution as Redis keeps it; <see cref="Found"/> false caches "no such key".</summary>
internal sealed record CachedKey(
    bool Found,
    string? KeyId = null,
    string? TenantId = null,
    string? TenantName = null,
    string? TenantStatus = null,
    bool TestMode = false,
    string[]? Scopes = null,
    int EventsPerSecond = 0,
    int Burst = 0,
    long? ExpiresAtUnixMs = null,
    bool Revoked = false,
    string? Role = null,
    string? MemberId = null,
    string? ScopeKind = null,
    string? ScopeValue = null)
{
    public static CachedKey NotFound { get; } = new(false);

    public static CachedKey From(StoredKey key) => new(
        true, key.KeyId.ToString(), key.TenantId.ToString(), key.TenantName, key.TenantStatus, key.TestMode, key.Scopes,
        key.EventsPerSecond, key.Burst, key.ExpiresAt?.ToUnixTimeMilliseconds(), key.Revoked, key.Role, key.MemberId?.ToString(),
        key.ScopeKind, key.ScopeValue);
}
