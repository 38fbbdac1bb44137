using Tokage.Webhooks;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.StackExchangeRedis;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using StackExchange.Redis;
using Tokage.ControlPlane.Members;
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
        builder.AddMembers();

        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            json.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        });
    }

    /// <summary>
    /// Console members with ASP.NET Core Identity (its default password hasher, lockout and signed token links) over the
    /// members table; the links' keys are kept in Redis so they outlive a restart and work on every instance.
    /// </summary>
    private static void AddMembers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddIdentityCore<Member>(identity =>
            {
                identity.User.RequireUniqueEmail = true;
                // Length over composition rules (NIST SP 800-63B): a passphrase of 12 or more characters.
                identity.Password.RequiredLength = 12;
                identity.Password.RequireNonAlphanumeric = false;
                identity.Password.RequireDigit = false;
                identity.Password.RequireUppercase = false;
                identity.Password.RequireLowercase = false;
                identity.Lockout.MaxFailedAccessAttempts = 5;
                identity.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(5);
            })
            .AddDefaultTokenProviders()
            .AddTokenProvider<InvitationTokenProvider>(InvitationTokenProvider.ProviderName);
        builder.Services.AddScoped<IUserStore<Member>, UserOnlyStore<Member, ControlPlaneDbContext, Guid>>();
        builder.Services.Configure<DataProtectionTokenProviderOptions>(o => o.TokenLifespan = TimeSpan.FromHours(2));
        builder.Services.AddOptions<InvitationTokenProviderOptions>()
            .Configure<IOptions<ControlPlaneOptions>>((o, options) => o.TokenLifespan = options.Value.InvitationLifetime);
        builder.Services.AddDataProtection().SetApplicationName("tokage-control-plane");
        builder.Services.AddOptions<KeyManagementOptions>()
            .Configure<IConnectionMultiplexer>((o, redis) => o.XmlRepository = new RedisXmlRepository(() => redis.GetDatabase(), "tokage:control-plane:data-protection-keys"));
        builder.Services.AddScoped<MemberSessions>();
        builder.Services.AddSingleton<IMemberMail, MailDrop>();
        builder.Services.AddHttpClient(OidcCodeRedemption.HttpClientName);
        builder.Services.AddSingleton<OidcCodeRedemption>();
    }

    /// <summary>
    /// The REST API under <c>/v1</c>: the operator's (admin token) for every tenant, and a tenant's own — its keys or its
    /// members' sessions, by role — under <c>/v1/tenants/{tenant}</c>; sign-in under <c>/v1/auth</c>.
    /// </summary>
    public static void MapControlPlaneApi(this WebApplication app)
    {
        app.MapGroup("/v1")
            .AddEndpointFilter(ControlPlaneAccess.FilterAsync)
            .MapTenantsApi()
            .MapKeysApi()
            .MapMembersApi()
            .MapSsoApi()
            .MapDirectoryApi()
            .MapBudgetsApi();
        app.MapAccountApi();
    }
}
