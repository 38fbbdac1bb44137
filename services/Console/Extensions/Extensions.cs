using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Tokage.Console.Account;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.StackExchangeRedis;
using Microsoft.Extensions.Options;
using MudBlazor.Services;
using StackExchange.Redis;
using Tokage.Console.Api;

namespace Tokage.Console.Extensions;

internal static class Extensions
{
    /// <summary>Blazor (interactive server) with MudBlazor, cookie sign-in over the control plane's sessions, and the API clients.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddMudServices();

        builder.Services.AddOptions<ConsoleOptions>().BindConfiguration(ConsoleOptions.SectionName);
        foreach (var service in Enum.GetValues<TokageService>())
        {
            builder.Services.AddHttpClient(service.ToString(), (sp, client) => client.BaseAddress = BaseAddress(sp.GetRequiredService<IOptions<ConsoleOptions>>().Value, service));
        }

        builder.Services.AddScoped<TokageApi>();
        builder.Services.AddScoped<DemoSeeder>();

        // The cookie holds the member's session (encrypted); it ends when the session does.
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(cookie =>
            {
                cookie.LoginPath = "/sign-in";
                cookie.LogoutPath = "/account/sign-out";
                cookie.Cookie.Name = "tokage.console";
                cookie.Cookie.HttpOnly = true;
                cookie.Cookie.SameSite = SameSiteMode.Lax;
                cookie.SlidingExpiration = false;
            });
        // Tenants' own OpenID Connect providers: their schemes are added when first used (SingleSignOn).
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<OpenIdConnectOptions>, OpenIdConnectPostConfigureOptions>());
        builder.Services.AddSingleton<SingleSignOn>();
        builder.Services.AddAuthorization();
        builder.Services.AddCascadingAuthenticationState();

        // Cookie keys in Redis: signed-in members stay signed in across restarts and instances.
        builder.AddRedisClient("redis");
        builder.Services.AddDataProtection().SetApplicationName("tokage-console");
        builder.Services.AddOptions<KeyManagementOptions>()
            .Configure<IConnectionMultiplexer>((o, redis) => o.XmlRepository = new RedisXmlRepository(() => redis.GetDatabase(), "tokage:console:data-protection-keys"));
    }

    /// <summary>A tenant's provider calling back finds its scheme registered, even on an instance that did not start the sign-in.</summary>
    public static void UseSingleSignOnCallbacks(this WebApplication app) =>
        app.Use((http, next) => http.RequestServices.GetRequiredService<SingleSignOn>().PrepareCallbackAsync(http, () => next(http)));

    private static Uri BaseAddress(ConsoleOptions options, TokageService service) => service switch
    {
        TokageService.ControlPlane => options.ControlPlane,
        TokageService.QueryApi => options.QueryApi,
        TokageService.PriceRegistry => options.PriceRegistry,
        TokageService.Billing => options.Billing,
        TokageService.Ingestion => options.Ingestion,
        TokageService.Audit => options.Audit,
        _ => throw new ArgumentOutOfRangeException(nameof(service)),
    };
}
