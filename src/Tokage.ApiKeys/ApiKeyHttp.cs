using Microsoft.AspNetCore.Http;

namespace Tokage.ApiKeys;

/// <summary>API keys on HTTP requests: where they are read from, and the answer when one does not let the request in.</summary>
public static class ApiKeyHttp
{
    /// <summary>Seconds a client is told to wait when keys cannot be checked.</summary>
    public const int RetryAfterSeconds = 5;

    /// <summary><c>Authorization: Bearer tok_…</c>, else <c>x-api-key: tok_…</c>.</summary>
    public static string? ReadKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }

        return request.Headers["x-api-key"].FirstOrDefault()?.Trim();
    }

    /// <summary>The identity behind the request's key with <paramref name="scope"/>, or the response that refuses it.</summary>
    public static async Task<(ApiKeyIdentity? Identity, IResult? Refusal)> AuthenticateAsync(
        this IApiKeyResolver resolver, HttpContext context, string scope)
    {
        var resolution = await resolver.ResolveAsync(ReadKey(context.Request), context.RequestAborted);
        switch (resolution.Status)
        {
            case KeyResolutionStatus.Valid when resolution.Identity!.HasScope(scope):
                Remember(context, resolution.Identity);
                return (resolution.Identity, null);
            case KeyResolutionStatus.Valid:
                return (null, Forbidden(resolution.Identity!, scope));
            case KeyResolutionStatus.Suspended:
                return (null, Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
                    detail: "This tenant is suspended."));
            case KeyResolutionStatus.Unavailable:
                context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return (null, Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service Unavailable",
                    detail: "API keys cannot be checked right now; nothing was accepted. Retry later."));
            default:
                context.Response.Headers.WWWAuthenticate = "Bearer";
                return (null, Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                    detail: "A valid API key is required: 'Authorization: Bearer tok_live_…' or 'x-api-key: tok_live_…'."));
        }
    }

    /// <summary>Keeps the identity that let a request in on the request, for what records who acted (the audit log).</summary>
    public static void Remember(HttpContext context, ApiKeyIdentity identity) => context.Items[typeof(ApiKeyIdentity)] = identity;

    /// <summary>The key or session that let this request in, if one did.</summary>
    public static ApiKeyIdentity? IdentityOf(HttpContext context) => context.Items[typeof(ApiKeyIdentity)] as ApiKeyIdentity;

    /// <summary>The 403 for a caller without <paramref name="scope"/>: a key lacks the scope, a member's session the role.</summary>
    public static IResult Forbidden(ApiKeyIdentity identity, string scope) => identity.Role is { } role
        ? MissingRole(role, MemberRoles.LeastWith(scope))
        : Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
            detail: $"This API key does not have the '{scope}' scope.");

    /// <summary>The 403 for a member whose role is below <paramref name="needed"/>.</summary>
    public static IResult MissingRole(string role, string needed) =>
        Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
            detail: $"This needs the '{needed}' role; you are '{role}'.",
            extensions: new Dictionary<string, object?> { ["missing_role"] = needed });
}
