using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Tokage.ApiKeys;

/// <summary>
/// Drops keys from the caller's cache as soon as the control plane says their resolution changed. Subscribes
/// in the background (retrying while Redis is away, so start-up never waits for it); once subscribed, the
/// multiplexer resubscribes by itself after reconnects. Meanwhile the cache's short TTL bounds staleness.
/// </summary>
public sealed class ApiKeyInvalidationListener(
    IConnectionMultiplexer redis, CachingApiKeyResolver resolver, ILogger<ApiKeyInvalidationListener> logger) : BackgroundService
{
    private ChannelMessageQueue? queue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(ApiKeyCache.InvalidationChannel)).WaitAsync(stoppingToken);
                queue.OnMessage(message => resolver.Invalidate(message.Message.ToString()));
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                logger.LogWarning("Could not subscribe to API key invalidations ({Error}); retrying. Cached keys expire after their TTL meanwhile.", ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (queue is not null)
        {
            await queue.UnsubscribeAsync();
        }
    }

    /// <summary>Subscribed (for tests and callers that must know invalidations flow before they go on).</summary>
    public bool IsSubscribed => queue is not null;
}
