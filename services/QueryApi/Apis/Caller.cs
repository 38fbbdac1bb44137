using Tokage.ApiKeys;

namespace Tokage.QueryApi.Apis;

/// <summary>Whose usage a request may read: the tenant of its API key (scope <c>read</c>), or the one the admin token names.</summary>
internal static class Caller
{
    public static Task<(string? TenantId, IResult? Refusal)> TenantAsync(HttpContext context, IApiKeyResolver keys) =>
        TenantCaller.TenantAsync(context, keys, ApiKeyScopes.Read);
}
