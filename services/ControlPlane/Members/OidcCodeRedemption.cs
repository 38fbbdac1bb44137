using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Tokage.ControlPlane.Data;

namespace Tokage.ControlPlane.Members;

/// <summary>What a tenant's identity provider vouched for: a verified e-mail, and the token response it came in (for the console's own check).</summary>
internal sealed record OidcIdentity(string Email, string Subject, string IdToken, string AccessToken);

/// <summary>
/// Redeems an authorization code at a tenant's identity provider (with the client secret, which never leaves the control
/// plane, and the PKCE verifier) and checks the ID token it answers: signed by a key the provider publishes, issued by
/// it, for the tenant's client, unexpired, with an e-mail that is not marked unverified. Only then may a session start.
/// Discovery documents and keys are cached per authority and refreshed when a token names a key not seen yet.
/// </summary>
internal sealed class OidcCodeRedemption(IHttpClientFactory httpClients, IOptions<ControlPlaneOptions> options, ILogger<OidcCodeRedemption> logger)
{
    public const string HttpClientName = "oidc";

    private readonly ConcurrentDictionary<string, ConfigurationManager<OpenIdConnectConfiguration>> configurations = new(StringComparer.Ordinal);
    private readonly JsonWebTokenHandler tokens = new() { MapInboundClaims = false };

    /// <summary>Whether <paramref name="authority"/> is an address this deployment may use (HTTPS, or HTTP where allowed).</summary>
    public bool IsAllowedAuthority(string authority) =>
        Uri.TryCreate(authority, UriKind.Absolute, out var uri) && uri.Query.Length == 0 && uri.Fragment.Length == 0
        && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && options.Value.AllowHttpIdentityProviders));

    public async Task<(OidcIdentity? Identity, string? Error)> RedeemAsync(
        TenantSso sso, string? clientSecret, string code, string codeVerifier, string redirectUri, CancellationToken cancellationToken)
    {
        var manager = Configuration(sso.Authority);
        OpenIdConnectConfiguration configuration;
        try
        {
            configuration = await manager.GetConfigurationAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidOperationException or HttpRequestException or IOException)
        {
            logger.LogWarning(ex, "The identity provider {Authority} could not be read.", sso.Authority);
            return (null, $"The identity provider at {sso.Authority} could not be reached or did not answer an OpenID configuration.");
        }

        var (idToken, accessToken, redeemError) = await RequestTokensAsync(configuration.TokenEndpoint, sso.ClientId, clientSecret, code, codeVerifier, redirectUri, cancellationToken);
        if (idToken is null)
        {
            return (null, redeemError);
        }

        var validation = await ValidateAsync(idToken, configuration, sso.ClientId);
        if (validation.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            // The provider rotated its keys since they were cached: read them again once.
            manager.RequestRefresh();
            configuration = await manager.GetConfigurationAsync(cancellationToken);
            validation = await ValidateAsync(idToken, configuration, sso.ClientId);
        }

        if (!validation.IsValid)
        {
            logger.LogWarning(validation.Exception, "An ID token from {Authority} was refused.", sso.Authority);
            return (null, $"The identity provider's ID token was refused: {validation.Exception?.Message.Split('\n')[0] ?? "not valid"}");
        }

        var claims = validation.Claims;
        object? Claim(string name) => claims.TryGetValue(name, out var value) ? value : null;
        if (Claim("email") is not string email || email.Length == 0)
        {
            return (null, "The identity provider's ID token has no 'email' claim: ask for the 'email' scope in the provider's client settings.");
        }

        if (Claim("email_verified") is bool and false or "false")
        {
            return (null, $"The identity provider has not verified the e-mail '{email}'.");
        }

        return (new OidcIdentity(email, Claim("sub") as string ?? "", idToken, accessToken ?? ""), null);
    }

    private async Task<(string? IdToken, string? AccessToken, string? Error)> RequestTokensAsync(
        string tokenEndpoint, string clientId, string? clientSecret, string code, string codeVerifier, string redirectUri, CancellationToken cancellationToken)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = redirectUri,
            ["code_verifier"] = codeVerifier,
            ["client_id"] = clientId,
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, tokenEndpoint) { Content = new FormUrlEncodedContent(form) };
        if (clientSecret is not null)
        {
            // client_secret_basic, the default token endpoint authentication of OpenID Connect (RFC 6749 §2.3.1 encoding).
            var basic = $"{Uri.EscapeDataString(clientId)}:{Uri.EscapeDataString(clientSecret)}";
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(basic)));
        }

        using var client = httpClients.CreateClient(HttpClientName);
        try
        {
            using var response = await client.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            using var body = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
            if (!response.IsSuccessStatusCode)
            {
                var error = body.RootElement.TryGetProperty("error", out var e) ? e.GetString() : ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var description = body.RootElement.TryGetProperty("error_description", out var d) ? $": {d.GetString()}" : "";
                return (null, null, $"The identity provider refused the sign-in code ({error}{description}).");
            }

            var accessToken = body.RootElement.TryGetProperty("access_token", out var access) ? access.GetString() : null;
            return body.RootElement.TryGetProperty("id_token", out var idToken) && idToken.GetString() is { Length: > 0 } value
                ? (value, accessToken, null)
                : (null, null, "The identity provider answered no ID token: is 'openid' among the client's scopes?");
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException)
        {
            logger.LogWarning(ex, "Redeeming a code at {Endpoint} failed.", tokenEndpoint);
            return (null, null, "The identity provider's token endpoint could not be reached or answered something that is not JSON.");
        }
    }

    private Task<TokenValidationResult> ValidateAsync(string idToken, OpenIdConnectConfiguration configuration, string clientId) =>
        tokens.ValidateTokenAsync(idToken, new TokenValidationParameters
        {
            ValidIssuer = configuration.Issuer,
            ValidAudience = clientId,
            IssuerSigningKeys = configuration.SigningKeys,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = TimeSpan.FromMinutes(2),
        });

    private ConfigurationManager<OpenIdConnectConfiguration> Configuration(string authority) =>
        configurations.GetOrAdd(authority, _ => new ConfigurationManager<OpenIdConnectConfiguration>(
            authority.TrimEnd('/') + "/.well-known/openid-configuration",
            new OpenIdConnectConfigurationRetriever(),
            new HttpDocumentRetriever(httpClients.CreateClient(HttpClientName)) { RequireHttps = !options.Value.AllowHttpIdentityProviders }));
}
