using Tokage.ApiKeys;
using Tokage.Integrations;

namespace Tokage.PriceRegistry.Apis;

/// <summary>
/// Who asks the registry. The operator (admin token) reads and writes public prices and every tenant's overrides; a
/// tenant (its API key or a member's session, through the auth service) reads its own overrides with <c>read</c> and
/// writes them with <c>admin</c>; a caller without credentials reads public prices only.
/// </summary>
internal sealed record PriceCaller(bool IsOperator, string TenantId)
{
    public static PriceCaller Anonymous { get; } = new(false, "");

    public static PriceCaller Operator { get; } = new(true, "");

    public bool IsTenant => !IsOperator && TenantId.Length > 0;

    /// <summary>
    /// The caller, or the answer that refuses it. A request without credentials is <see cref="Anonymous"/> when
    /// <paramref name="anonymous"/> allows it; a tenant needs <paramref name="scope"/>; a key scoped to a project,
    /// application or team is refused (prices are the tenant's as a whole).
    /// </summary>
    public static async Task<(PriceCaller? Caller, IResult? Refusal)> ResolveAsync(HttpContext http, string scope, bool anonymous)
    {
        var admin = http.RequestServices.GetRequiredService<AdminToken>();
        var key = ApiKeyHttp.ReadKey(http.Request);
        if (string.IsNullOrEmpty(key))
        {
            return anonymous ? (Anonymous, null) : (null, Unauthorized(http));
        }

        if (!ApiKeyFormat.LooksValid(key))
        {
            return admin.Refusal(http) is { } refusal ? (null, refusal) : (Operator, null);
        }

        var (identity, denied) = await http.RequestServices.GetRequiredService<IApiKeyResolver>().AuthenticateAsync(http, scope);
        if (identity is null)
        {
            return (null, denied);
        }

        return identity.IsScoped ? (null, KeyScope.Refusal(identity)) : (new PriceCaller(false, identity.TenantId), null);
    }

    /// <summary>
    /// The tenant whose prices a request means: a tenant's own (naming another is a 404, as if it did not exist), or
    /// for the operator the one it names (none: public prices).
    /// </summary>
    public (string? Tenant, IResult? Refusal) Tenant(string? named)
    {
        var name = named?.Trim() ?? "";
        if (IsTenant)
        {
            return name.Length == 0 || string.Equals(name, TenantId, StringComparison.OrdinalIgnoreCase)
                ? (TenantId, null)
                : (null, Results.Problem(statusCode: StatusCodes.Status404NotFound, detail: $"No tenant '{name}'."));
        }

        return (name, null);
    }

    public static IResult Unauthorized(HttpContext http)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
            detail: "This needs the admin token, or a tenant's API key or session.");
    }
}
