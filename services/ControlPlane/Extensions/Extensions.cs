using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tokage.ControlPlane.Apis;
using Tokage.ControlPlane.Data;
using Tokage.ControlPlane.Keys;
using Tokage.Integrations;

namespace Tokage.ControlPlane.Extensions;

internal static class Extensions
{
    /// <summary>The engines this service talks to (each with its health check, so /health means ready), migrations, and the admin API's parts.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient("redis");

        // The connection string names the application role, which RLS binds; the database migrator made the schema.
        builder.AddNpgsqlDbContext<ControlPlaneDbContext>("tokage",
            // Requests open their own transactions (the tenant scope), which a retrying strategy forbids.
            settings => settings.DisableRetry = true,
            options => options.UseSnakeCaseNamingConvention());
        builder.Services.AddHealthChecks().AddCheck<SchemaIsMigrated>("control-plane-schema", tags: ["ready"]);

        builder.Services.AddOptions<ControlPlaneOptions>()
            .BindConfiguration(ControlPlaneOptions.SectionName)
            .Validate(o => o.AdminToken.Length >= AdminToken.MinimumLength, $"{ControlPlaneOptions.SectionName}:AdminToken must be set (16 characters or more): it guards the admin API.")
            .ValidateOnStart();
        builder.Services.AddWebhookTargets();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new AdminToken(sp.GetRequiredService<IOptions<ControlPlaneOptions>>().Value.AdminToken, "The control plane's admin API"));
        builder.Services.AddSingleton<KeyInvalidations>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<KeyInvalidations>());

        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            json.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        });
    }

    /// <summary>The admin REST API under <c>/v1</c>, all of it behind the admin token.</summary>
    public static void MapControlPlaneApi(this WebApplication app)
    {
        app.MapGroup("/v1")
            .AddEndpointFilter(AdminToken.RequireAsync)
            .MapTenantsApi()
            .MapKeysApi()
            .MapDirectoryApi()
            .MapBudgetsApi();
    }
}
