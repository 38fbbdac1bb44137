using Microsoft.Extensions.Options;
using Tokage.Integrations;
using Tokage.Pricing;
using Tokage.PriceRegistry.Prices;
using Tokage.PriceRegistry.Repricing;

namespace Tokage.PriceRegistry.Extensions;

internal static class Extensions
{
    /// <summary>
    /// The engines this service talks to (each with its health check, so /health means ready), the price book and its
    /// feed, the admin token, and tenants' keys and sessions (through the auth service) for their own overrides.
    /// </summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDataSource("tokage");
        builder.AddRedisClient("redis");
        builder.AddApiKeyResolver();
        builder.Services.AddHealthChecks().AddDatabaseSchemaCheck();

        builder.Services.AddOptions<PriceRegistryOptions>()
            .BindConfiguration(PriceRegistryOptions.SectionName)
            .Validate(o => o.AdminToken.Length is 0 or >= AdminToken.MinimumLength,
                $"{PriceRegistryOptions.SectionName}:AdminToken must be {AdminToken.MinimumLength} characters or more (or unset, which disables the write endpoints).")
            .Validate(o => o.FeedToken.Length is 0 or >= AdminToken.MinimumLength,
                $"{PriceRegistryOptions.SectionName}:FeedToken must be {AdminToken.MinimumLength} characters or more (or unset, which closes the gRPC feed).")
            .ValidateOnStart();
        builder.Services.AddSingleton(sp => new AdminToken(sp.GetRequiredService<IOptions<PriceRegistryOptions>>().Value.AdminToken, "The price registry's admin API"));

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PriceStore>();
        builder.Services.AddSingleton<PriceBook>();
        builder.Services.AddSingleton<PriceFeed>();
        builder.Services.AddSingleton<PriceRegistryStartup>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PriceRegistryStartup>());
        builder.Services.AddHostedService<PriceChangeListener>();

        // Repricings are queued with the versions that start them; a replica with the usage store runs them. Its
        // ClickHouse is reported, not required: prices are served while it is away.
        builder.Services.AddSingleton<RepricingStore>();
        if (builder.Configuration.GetConnectionString("analytics") is not null)
        {
            builder.AddUsageRepricing("analytics");
            builder.MarkHealthCheckOptional("clickhouse-analytics");
            builder.Services.AddHostedService<RepricingWorker>();
        }
        builder.Services.AddHealthChecks().AddCheck<PriceRegistryStartup>("price-registry-load", tags: ["ready"]);
        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);
    }
}
