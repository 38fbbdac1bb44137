using System.Threading.Channels;
using StackExchange.Redis;
using Tokage.ApiKeys;

namespace Tokage.ControlPlane.Keys;

/// <summary>
/// Tells every cache that keys changed (revoked, rotated, tenant suspended or changed): writes a tombstone over the
/// auth service's Redis entries (which it cannot overwrite with an answer read before the change) and publishes the
/// hashes, which callers drop from their LRUs at once. A change
/// that cannot reach Redis now is retried every second until it does; meanwhile the caches' TTLs bound
/// how long the old answer lives (30 s in Redis, 3 s in callers).
/// </summary>
internal sealed class KeyInvalidations(IConnectionMultiplexer redis, ILogger<KeyInvalidations> logger) : BackgroundService
{
    private readonly Channel<string[]> pending = Channel.CreateUnbounded<string[]>();

    /// <summary>Invalidates now; on failure queues the hashes for retry. Returns whether it reached Redis.</summary>
    public async Task<bool> InvalidateAsync(IReadOnlyCollection<byte[]> hashes)
    {
        var hex = hashes.Select(Convert.ToHexStringLower).ToArray();
        if (hex.Length == 0 || await TryPublishAsync(hex))
        {
            return true;
        }

        pending.Writer.TryWrite(hex);
        return false;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var hex in pending.Reader.ReadAllAsync(stoppingToken))
        {
            while (!await TryPublishAsync(hex))
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }

            logger.LogInformation("Delivered a delayed invalidation of {Count} API keys.", hex.Length);
        }
    }

    private async Task<bool> TryPublishAsync(string[] hex)
    {
        try
        {
            var db = redis.GetDatabase();
            await Task.WhenAll(hex.Select(h => db.StringSetAsync(ApiKeyCache.EntryKey(h), ApiKeyCache.Tombstone, ApiKeyCache.TombstoneTtl)))
                .WaitAsync(TimeSpan.FromSeconds(2));
            foreach (var hash in hex)
            {
                await db.PublishAsync(RedisChannel.Literal(ApiKeyCache.InvalidationChannel), hash).WaitAsync(TimeSpan.FromSeconds(2));
            }

            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Could not invalidate {Count} API keys in Redis ({Error}); retrying.", hex.Length, ex.Message);
            return false;
        }
    }
}
