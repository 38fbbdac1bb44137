using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Tokage.ControlPlane.Apis;

/// <summary>The admin API's credential: <c>Authorization: Bearer &lt;admin token&gt;</c>, compared in constant time.</summary>
internal sealed class AdminToken(IOptions<ControlPlaneOptions> options)
{
    private readonly byte[] expected = SHA256.HashData(Encoding.UTF8.GetBytes(options.Value.AdminToken));

    public bool Accepts(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var offered = SHA256.HashData(Encoding.UTF8.GetBytes(authorization["Bearer ".Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(offered, expected);
    }

    /// <summary>An endpoint filter for the admin routes.</summary>
    public static async ValueTask<object?> RequireAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!http.RequestServices.GetRequiredService<AdminToken>().Accepts(http.Request.Headers.Authorization.FirstOrDefault()))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: "The control plane's admin API needs 'Authorization: Bearer <admin token>'.");
        }

        return await next(context);
    }
}
