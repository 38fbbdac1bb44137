using Tokage.Pricing;
namespace Tokage.PriceRegistry.Prices;

/// <summary>At start: the seed (the table is the migrator's), then every version into memory. Ready once loaded.</summary>
public sealed class PriceRegistryStartup(PriceStore store, PriceBook book, ILogger<PriceRegistryStartup> logger) : StartupTask(logger)
{
    protected override string Description => "Price registry seed and load";

    protected override async Task RunAsync(CancellationToken cancellationToken)
    {
        await store.SeedAsync(cancellationToken);
        book.Load(await store.LoadAsync(cancellationToken));
        logger.LogInformation("Price registry holds {Count} versions.", book.VersionCount);
    }
}
