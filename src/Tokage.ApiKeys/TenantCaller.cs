using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tokage.Integrations;

namespace Tokage.ApiKeys;

/// <summary>
/// Whose data a tenant-scoped request may touch: the tenant of its API key (with <c>scope</c>, or <c>admin</c>), or —
/// with the service's admin token — the tenant it names in <c>?tenant=</c>. Never a tenant from anywhere else.
/// </summary>
public static class TenantCaller
{
    /// <summary>The caller's tenant; a key scoped to a project, application or team is refused (see <see cref="CallerAsync"/>).</summary>
    public static async Task<(string? TenantId, IResult? Refusal)> TenantAsync(HttpContext context, IApiKeyResolver keys, string scope)
    {
        var (tenant, key, refusal) = await CallerAsync(context, keys, scope);
        return key is { IsScoped: true } ? (null, KeyScope.Refusal(key)) : (tenant, refusal);
    }

    /// <summary>
    /// The caller's tenant and, when a key made the request, the key — for the few paths that narrow what they answer to a
    /// scoped key's scope. Null key: the operator (admin token).
    /// </summary>
    public static async Task<(string? TenantId, ApiKeyIdentity? Key, IResult? Refusal)> CallerAsync(HttpContext context, IApiKeyResolver keys, string scope)
    {
        var admin = context.RequestServices.GetRequiredService<AdminToken>();
        var key = ApiKeyHttp.ReadKey(context.Request);
        if (admin.IsConfigured && key is not null && !ApiKeyFormat.LooksValid(key) && admin.Accepts(context.Request.Headers.Authorization.FirstOrDefault()))
        {
            var named = context.Request.Query["tenant"].ToString();
            return Guid.TryParse(named, out var tenant)
                ? (tenant.ToString(), null, null)
                : (null, null, Results.ValidationProblem(new Dictionary<string, string[]> { ["tenant"] = ["With the admin token, name the tenant: ?tenant=<tenant id>."] }));
        }

        var (identity, refusal) = await keys.AuthenticateAsync(context, scope);
        return (identity?.TenantId, identity, refusal);
    }
}
