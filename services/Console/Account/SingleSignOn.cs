using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Tokage.Console.Api;

namespace Tokage.Console.Account;

/// <summary>
/// Sign-in at a tenant's own OpenID Connect provider, with ASP.NET Core's OpenID Connect handler: one scheme per tenant
/// (<c>sso-{tenant id}</c>, added when first needed, from what the control plane publishes about the tenant), the
/// authorization-code flow with PKCE, callback at <c>/sso/callback/{tenant id}</c>. The handler does not redeem the code
/// itself: the control plane does — it keeps the client secret, checks the ID token and starts the member's session —
/// and the handler then checks the same ID token (issuer, audience, signature, and the nonce it sent) before the
/// console's cookie takes the session.
/// </summary>
public sealed class SingleSignOn(
    IAuthenticationSchemeProvider schemes, IOptionsMonitorCache<OpenIdConnectOptions> optionsCache,
    IEnumerable<IPostConfigureOptions<OpenIdConnectOptions>> postConfigures, IOptions<ConsoleOptions> console, IHttpClientFactory clients)
{
    public const string SchemePrefix = "sso-";
    public const string CallbackPrefix = "/sso/callback/";

    private readonly ConcurrentDictionary<string, (string Authority, string ClientId)> registered = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim registering = new(1, 1);

    /// <summary>
    /// <c>GET /account/sso?organization=&amp;returnUrl=</c>: sends the browser to the organization's provider, or back to
    /// the sign-in form with why not.
    /// </summary>
    public static async Task<IResult> StartAsync(string? organization, string? returnUrl, SingleSignOn sso, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(organization))
        {
            return Results.LocalRedirect("/sign-in?error=" + Uri.EscapeDataString("Name your organization to sign in with its single sign-on."));
        }

        var (scheme, error) = await sso.SchemeForAsync(organization.Trim(), cancellationToken);
        return scheme is null
            ? Results.LocalRedirect("/sign-in?error=" + Uri.EscapeDataString(error!))
            : Results.Challenge(new AuthenticationProperties { RedirectUri = AccountApi.LocalOrHome(returnUrl) }, [scheme]);
    }

    /// <summary>Registers the scheme of the tenant a provider calls back for (after a restart, or on another instance).</summary>
    public async Task PrepareCallbackAsync(HttpContext http, Func<Task> next)
    {
        if (http.Request.Path.StartsWithSegments(CallbackPrefix.TrimEnd('/'), out var rest) && Guid.TryParse(rest.Value?.Trim('/'), out var tenant))
        {
            await SchemeForAsync(tenant.ToString(), http.RequestAborted);
        }

        await next();
    }

    /// <summary>The scheme of the organization (a tenant's name or id) that has single sign-on, or why there is none.</summary>
    public async Task<(string? Scheme, string? Error)> SchemeForAsync(string organization, CancellationToken cancellationToken)
    {
        using var response = await AccountApi.ControlPlane(clients).GetAsync($"/v1/auth/sso?organization={Uri.EscapeDataString(organization)}", cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return (null, response.StatusCode == System.Net.HttpStatusCode.NotFound
                ? $"'{organization}' has no single sign-on here. Sign in with your e-mail and password, or ask an owner to set it up."
                : (await ApiProblem.ReadAsync(response, cancellationToken)).Message);
        }

        var found = (await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken))!;
        var tenantId = (string)found["tenant_id"]!;
        var provider = ((string)found["authority"]!, (string)found["client_id"]!);
        var name = SchemePrefix + tenantId;
        await registering.WaitAsync(cancellationToken);
        try
        {
            if (!registered.TryGetValue(name, out var current) || current != provider)
            {
                // New, or the owners changed the provider: the handler reads its options afresh.
                optionsCache.TryRemove(name);
                optionsCache.TryAdd(name, Options(name, tenantId, provider.Item1, provider.Item2));
                registered[name] = provider;
            }

            if (await schemes.GetSchemeAsync(name) is null)
            {
                schemes.TryAddScheme(new AuthenticationScheme(name, (string)found["tenant_name"]!, typeof(OpenIdConnectHandler)));
            }
        }
        finally
        {
            registering.Release();
        }

        return (name, null);
    }

    private OpenIdConnectOptions Options(string name, string tenantId, string authority, string clientId)
    {
        var options = new OpenIdConnectOptions
        {
            Authority = authority,
            ClientId = clientId,
            ResponseType = OpenIdConnectResponseType.Code,
            // A top-level GET back to the console, so the correlation and nonce cookies can stay SameSite=Lax.
            ResponseMode = OpenIdConnectResponseMode.Query,
            UsePkce = true,
            CallbackPath = CallbackPrefix + tenantId,
            SignInScheme = CookieAuthenticationDefaults.AuthenticationScheme,
            RequireHttpsMetadata = !console.Value.AllowHttpIdentityProviders,
            MapInboundClaims = false,
            GetClaimsFromUserInfoEndpoint = false,
            SaveTokens = false,
        };
        options.Scope.Add("email");
        options.CorrelationCookie.SameSite = SameSiteMode.Lax;
        options.NonceCookie.SameSite = SameSiteMode.Lax;
        options.CorrelationCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        options.NonceCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        options.Events = new OpenIdConnectEvents
        {
            OnAuthorizationCodeReceived = context => RedeemAtControlPlaneAsync(context, tenantId),
            OnTokenValidated = TakeSession,
            OnRemoteFailure = context =>
            {
                context.Response.Redirect("/sign-in?error=" + Uri.EscapeDataString(context.Failure?.Message ?? "Single sign-on failed."));
                context.HandleResponse();
                return Task.CompletedTask;
            },
        };
        foreach (var postConfigure in postConfigures)
        {
            postConfigure.PostConfigure(name, options);
        }

        return options;
    }

    private const string SessionItem = "tokage:sso-session";

    private async Task RedeemAtControlPlaneAsync(AuthorizationCodeReceivedContext context, string tenantId)
    {
        var request = context.TokenEndpointRequest!;
        using var response = await AccountApi.ControlPlane(clients).PostAsJsonAsync("/v1/auth/sso/sign-in", new
        {
            tenant_id = tenantId,
            code = context.ProtocolMessage.Code,
            code_verifier = request.Parameters.TryGetValue("code_verifier", out var verifier) ? verifier : null,
            redirect_uri = request.RedirectUri,
        }, context.HttpContext.RequestAborted);
        if (!response.IsSuccessStatusCode)
        {
            context.Fail((await ApiProblem.ReadAsync(response, context.HttpContext.RequestAborted)).Message);
            return;
        }

        var session = (await response.Content.ReadFromJsonAsync<JsonObject>(context.HttpContext.RequestAborted))!;
        context.HttpContext.Items[SessionItem] = session;
        // The handler checks these as if it had redeemed the code itself (the nonce above all).
        context.HandleCodeRedemption((string)session["access_token"]!, (string)session["id_token"]!);
    }

    private static Task TakeSession(TokenValidatedContext context)
    {
        if (context.HttpContext.Items[SessionItem] is not JsonObject answer)
        {
            context.Fail("No session came back from the control plane.");
            return Task.CompletedTask;
        }

        var session = ConsoleSession.FromApi(answer);
        context.Principal = session.ToPrincipal(CookieAuthenticationDefaults.AuthenticationScheme);
        context.Properties!.ExpiresUtc = session.ExpiresAt;
        context.Properties.IsPersistent = true;
        return Task.CompletedTask;
    }
}
