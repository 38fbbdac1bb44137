using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Tokage.Integrations;

/// <summary>
/// An admin API's credential: <c>Authorization: Bearer &lt;admin token&gt;</c>. The offered and the expected token are
/// compared as SHA-256 digests in constant time, so timing tells neither a prefix nor the length. An empty token
/// means none is configured: nothing is accepted, and <see cref="RequireAsync"/> answers 503 rather than open.
/// </summary>
public sealed class AdminToken
{
    /// <summary>The shortest token a service accepts as its configuration.</summary>
    public const int MinimumLength = 16;

    private readonly byte[]? expected;

    /// <param name="token">The configured token; empty or null when none is set.</param>
    /// <param name="api">What the token guards, for the answers ("The control plane's admin API").</param>
    public AdminToken(string? token, string api)
    {
        expected = string.IsNullOrEmpty(token) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));
        Api = api;
    }

    public string Api { get; }

    public bool IsConfigured => expected is not null;

    public bool Accepts(string? authorization)
    {
        if (expected is null || authorization is null || !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var offered = SHA256.HashData(Encoding.UTF8.GetBytes(authorization["Bearer ".Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(offered, expected);
    }

    /// <summary>Null when the request carries the token; else the answer to give: 503 when no token is configured, 401 otherwise.</summary>
    public IResult? Refusal(HttpContext http)
    {
        if (expected is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Admin API disabled",
                detail: $"{Api} is disabled: no admin token is configured.");
        }

        if (Accepts(http.Request.Headers.Authorization.FirstOrDefault()))
        {
            return null;
        }

        http.Response.Headers.WWWAuthenticate = "Bearer";
        return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
            detail: $"{Api} needs 'Authorization: Bearer <admin token>'.");
    }

    /// <summary>An endpoint filter for admin routes (the <see cref="AdminToken"/> comes from the services).</summary>
    public static async ValueTask<object?> RequireAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        context.HttpContext.RequestServices.GetRequiredService<AdminToken>().Refusal(context.HttpContext) ?? await next(context);
}
