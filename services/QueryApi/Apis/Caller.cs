using Tokage.ApiKeys;
using Tokage.Integrations;

namespace Tokage.QueryApi.Apis;

/// <summary>
/// Whose usage a request may read: the tenant of its API key (scope <c>read</c>), or — with the admin token — the
/// tenant it names in <c>?tenant=</c>. Never a tenant from anywhere else.
/// </summary>
internal static class Caller
{
    public static async Task<(string? TenantId, IResult? Refusal)> TenantAsync(HttpContext context, IApiKeyResolver keys)
    {
        var admin = context.RequestServices.GetRequiredService<AdminToken>();
        var key = ApiKeyHttp.ReadKey(context.Request);
        if (admin.IsConfigured && key is not null && !ApiKeyFormat.LooksValid(key) && admin.Accepts(context.Request.Headers.Authorization.FirstOrDefault()))
        {
            var named = context.Request.Query["tenant"].ToString();
            return Guid.TryParse(named, out var tenant)
                ? (tenant.ToString(), null)
                : (null, Results.ValidationProblem(new Dictionary<string, string[]> { ["tenant"] = ["With the admin token, name the tenant: ?tenant=<tenant id>."] }));
        }

        var (identity, refusal) = await keys.AuthenticateAsync(context, ApiKeyScopes.Read);
        return (identity?.TenantId, refusal);
    }
}
