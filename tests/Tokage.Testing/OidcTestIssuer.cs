using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Tokage.Testing;

/// <summary>
/// A local OpenID Connect provider for tests, speaking the protocol's documented wire format: discovery, JWKS, the
/// authorization endpoint of the code flow (PKCE S256 required) and the token endpoint (client_secret_basic or _post),
/// with RS256 ID tokens made by Microsoft.IdentityModel. There is no login form: whoever <see cref="SignedIn"/> names is
/// the person at the provider, as if already signed in there. It can misbehave on purpose (<see cref="Audience"/>,
/// <see cref="SignWithRogueKey"/>) so tests see forged tokens refused.
/// </summary>
public sealed class OidcTestIssuer : IAsyncDisposable
{
    private LocalWebServer server = null!;
    private readonly RsaSecurityKey key = new(RSA.Create(2048)) { KeyId = "test-key-1" };
    private readonly RsaSecurityKey rogue = new(RSA.Create(2048)) { KeyId = "test-key-1" };
    private readonly ConcurrentDictionary<string, Grant> grants = new(StringComparer.Ordinal);

    private OidcTestIssuer(string clientId, string clientSecret)
    {
        ClientId = clientId;
        ClientSecret = clientSecret;
    }

    public string ClientId { get; }

    public string ClientSecret { get; }

    /// <summary>The issuer URL (http://127.0.0.1:port), what a tenant configures as its authority.</summary>
    public string Authority { get; private set; } = "";

    /// <summary>The person signed in at the provider: the next authorization is theirs.</summary>
    public TestPerson SignedIn { get; set; } = new("someone@example.com");

    /// <summary>The audience of the ID tokens it issues; null: the client's id, as it should be.</summary>
    public string? Audience { get; set; }

    /// <summary>Sign ID tokens with a key it never published (same key id), as a forger would.</summary>
    public bool SignWithRogueKey { get; set; }

    /// <summary>How many codes were redeemed for an ID token.</summary>
    public int Redemptions;

    public static async Task<OidcTestIssuer> StartAsync(string clientId = "tokage-console", string clientSecret = "test-oidc-client-secret")
    {
        var issuer = new OidcTestIssuer(clientId, clientSecret);
        issuer.server = await LocalWebServer.StartAsync(issuer.Map);
        issuer.Authority = issuer.server.Address.ToString().TrimEnd('/');
        return issuer;
    }

    private void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Authority,
            ["authorization_endpoint"] = Authority + "/authorize",
            ["token_endpoint"] = Authority + "/token",
            ["jwks_uri"] = Authority + "/jwks",
            ["response_types_supported"] = new[] { "code" },
            ["subject_types_supported"] = new[] { "public" },
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            ["code_challenge_methods_supported"] = new[] { "S256" },
            ["scopes_supported"] = new[] { "openid", "email", "profile" },
            ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_basic", "client_secret_post" },
        }));
        app.MapGet("/jwks", () =>
        {
            var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(key);
            return Results.Json(new { keys = new[] { new { kty = jwk.Kty, kid = jwk.Kid, use = "sig", alg = "RS256", n = jwk.N, e = jwk.E } } });
        });
        app.MapGet("/authorize", Authorize);
        app.MapPost("/token", TokenAsync);
    }

    private IResult Authorize(HttpRequest request)
    {
        var query = request.Query;
        string? Get(string name) => query[name].FirstOrDefault();
        if (Get("client_id") != ClientId || Get("response_type") != "code" || Get("redirect_uri") is not { } redirect
            || Get("code_challenge") is not { } challenge || Get("code_challenge_method") != "S256" || !(Get("scope") ?? "").Split(' ').Contains("openid"))
        {
            return Results.BadRequest("invalid authorization request: client_id, response_type=code, redirect_uri, scope with openid and a S256 code_challenge are required");
        }

        var code = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(24));
        grants[code] = new Grant(redirect, challenge, Get("nonce"), SignedIn);
        var separator = redirect.Contains('?') ? '&' : '?';
        return Results.Redirect($"{redirect}{separator}code={Uri.EscapeDataString(code)}&state={Uri.EscapeDataString(Get("state") ?? "")}");
    }

    private async Task<IResult> TokenAsync(HttpRequest request)
    {
        var form = await request.ReadFormAsync();
        string? Get(string name) => form[name].FirstOrDefault();
        var (clientId, secret) = (Get("client_id"), Get("client_secret"));
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Basic ", StringComparison.Ordinal))
        {
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..])).Split(':', 2);
            (clientId, secret) = (Uri.UnescapeDataString(pair[0]), Uri.UnescapeDataString(pair[1]));
        }

        if (clientId != ClientId || secret != ClientSecret)
        {
            return Results.Json(new { error = "invalid_client" }, statusCode: StatusCodes.Status401Unauthorized);
        }

        if (Get("grant_type") != "authorization_code" || Get("code") is not { } code || !grants.TryRemove(code, out var grant)
            || Get("redirect_uri") != grant.RedirectUri
            || Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(Get("code_verifier") ?? ""))) != grant.CodeChallenge)
        {
            return Results.Json(new { error = "invalid_grant", error_description = "unknown or used code, another redirect_uri, or a code_verifier that does not match" },
                statusCode: StatusCodes.Status400BadRequest);
        }

        var claims = new Dictionary<string, object> { ["sub"] = grant.Person.Subject, ["email"] = grant.Person.Email, ["email_verified"] = grant.Person.EmailVerified };
        if (grant.Nonce is not null)
        {
            claims["nonce"] = grant.Nonce;
        }

        var now = DateTime.UtcNow;
        var idToken = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Authority,
            Audience = Audience ?? ClientId,
            Claims = claims,
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(5),
            SigningCredentials = new SigningCredentials(SignWithRogueKey ? rogue : key, SecurityAlgorithms.RsaSha256),
        });
        Interlocked.Increment(ref Redemptions);
        return Results.Json(new { access_token = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(24)), token_type = "Bearer", expires_in = 300, id_token = idToken });
    }

    /// <summary>
    /// Walks the code flow as a browser would, without one: a PKCE pair, the authorization request, the redirect's code.
    /// Returns what the console hands the control plane.
    /// </summary>
    public async Task<(string Code, string CodeVerifier)> AuthorizeAsync(string redirectUri)
    {
        var verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var response = await http.GetAsync($"{Authority}/authorize?client_id={Uri.EscapeDataString(ClientId)}&response_type=code&scope=openid%20email" +
            $"&redirect_uri={Uri.EscapeDataString(redirectUri)}&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256");
        var location = response.Headers.Location ?? throw new InvalidOperationException($"No redirect: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var code = System.Web.HttpUtility.ParseQueryString(location.Query)["code"]!;
        return (code, verifier);
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();

    private sealed record Grant(string RedirectUri, string CodeChallenge, string? Nonce, TestPerson Person);
}

/// <summary>A person at the test provider.</summary>
public sealed record TestPerson(string Email, bool EmailVerified = true)
{
    public string Subject { get; init; } = "sub-" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Email)))[..16].ToLowerInvariant();
}
