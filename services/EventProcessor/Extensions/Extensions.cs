using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Tokage.Contracts.V1;
using Tokage.EventLog;
using Tokage.EventProcessor.Archive;
using Tokage.EventProcessor.Pricing;
using Tokage.EventProcessor.Processing;
using Tokage.Integrations.ObjectStore;
using Tokage.Pricing;

namespace Tokage.EventProcessor.Extensions;

internal static class Extensions
{
    /// <summary>The engines this service talks to (each with its health check, so /health means ready), and the consume loop.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient("redis");
        builder.AddEventLog("events");
        // The processor writes the usage store, so it owns its schema: migrations run at its start.
        builder.AddUsageStore("analytics", ownsSchema: true);
        builder.AddObjectStoreClient("archive");

        builder.Services.AddOptions<ProcessorOptions>()
            .BindConfiguration(ProcessorOptions.SectionName)
            .Validate(o => o.BatchSize is > 0 and <= 100_000 && o.BatchWait >= TimeSpan.Zero && o.ConsumerName.Length > 0 && o.DedupeWindow > TimeSpan.Zero,
                $"{ProcessorOptions.SectionName}: BatchSize 1..100000, BatchWait ≥ 0, a ConsumerName and a positive DedupeWindow are required.")
            .Validate(o => o.PriceFeedToken.Length >= Tokage.Integrations.AdminToken.MinimumLength,
                $"{ProcessorOptions.SectionName}:PriceFeedToken must be set: the price registry's feed asks for it (the AppHost passes the shared price-feed-token; " +
                "deployments set Tokage__Processor__PriceFeedToken and Tokage__PriceRegistry__FeedToken from one secret).")
            .ValidateOnStart();

        // The price feed is one stream held open for the service's life.
        builder.Services.AddGrpcClient<PriceRegistryService.PriceRegistryServiceClient>((sp, o) =>
            o.Address = new Uri(sp.GetRequiredService<IOptions<ProcessorOptions>>().Value.PriceRegistryAddress))
            .AddCallCredentials((_, metadata, sp) =>
            {
                metadata.Add("authorization", "Bearer " + sp.GetRequiredService<IOptions<ProcessorOptions>>().Value.PriceFeedToken);
                return Task.CompletedTask;
            })
            // The services speak h2c inside the deployment's network; the token still travels with every call.
            .ConfigureChannel(channel => channel.UnsafeUseInsecureChannelCallCredentials = true)
            .WithoutRequestTimeouts();

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PriceBook>();
        builder.Services.AddSingleton<PriceFeedSubscription>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PriceFeedSubscription>());
        builder.Services.AddSingleton(sp => new DedupeClaims(sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>()));
        builder.Services.AddSingleton(sp => new ReservationSettlements(sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>()));
        builder.Services.AddSingleton<EventClassifier>();
        builder.Services.AddSingleton(sp => new ParquetArchive(sp.GetRequiredKeyedService<IObjectStore>("archive")));
        builder.Services.AddSingleton<BatchProcessor>();
        builder.Services.AddHostedService<EventProcessorWorker>();

        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            "price-book", sp => sp.GetRequiredService<PriceFeedSubscription>(), HealthStatus.Unhealthy, ["ready"]));
    }
}
