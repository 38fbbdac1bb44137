using Tokage.Pricing;
using Tokage.PriceRegistry.Prices;

namespace Tokage.PriceRegistry.Extensions;

internal static class Extensions
{
    /// <summary>The engines this service talks to (each with its health check, so /health means ready), and the price book.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDataSource("tokage");

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PriceStore>();
        builder.Services.AddSingleton<PriceBook>();
        builder.Services.AddSingleton<PriceRegistryStartup>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PriceRegistryStartup>());
        builder.Services.AddHealthChecks().AddCheck<PriceRegistryStartup>("price-registry-load", tags: ["ready"]);
        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);
    }
}
