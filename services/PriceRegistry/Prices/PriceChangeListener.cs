using Npgsql;

namespace Tokage.PriceRegistry.Prices;

/// <summary>
/// LISTENs on <see cref="PriceStore.Channel"/> so a version any replica writes reaches this replica's book (and its
/// gRPC watchers). A notification only says "look": the book catches up from the table. It also catches up after
/// each (re)connect, since notifications sent while disconnected are lost, and on a quiet interval as a safety net.
/// </summary>
public sealed class PriceChangeListener(NpgsqlDataSource dataSource, PriceFeed feed, PriceRegistryStartup startup, ILogger<PriceChangeListener> logger)
    : BackgroundService
{
    private static readonly TimeSpan QuietInterval = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await startup.Done.WaitAsync(stoppingToken);
        }
        catch (Exception ex) when (ex is OperationCanceledException || startup.Done.IsFaulted)
        {
            // Stopping, or a startup that cannot succeed (it keeps the service unhealthy and says why).
            return;
        }

        var delay = TimeSpan.FromMilliseconds(500);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                await using (var listen = new NpgsqlCommand($"LISTEN {PriceStore.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                delay = TimeSpan.FromMilliseconds(500);
                while (true)
                {
                    await feed.CatchUpAsync(stoppingToken);
                    await connection.WaitAsync(QuietInterval, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning("Price change listener lost PostgreSQL ({Error}); reconnecting in {Delay}.", ex.Message, delay);
                try
                {
                    await Task.Delay(delay, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }
}
