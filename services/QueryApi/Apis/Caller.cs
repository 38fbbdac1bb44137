using Microsoft.Extensions.Primitives;
using Tokage.ApiKeys;

namespace Tokage.QueryApi.Apis;

/// <summary>The query API's callers: keys with the <c>read</c> scope, or the operator naming a tenant.</summary>
internal static class Caller
{
    public static Task<(string? TenantId, IResult? Refusal)> TenantAsync(HttpContext context, IApiKeyResolver keys) =>
        TenantCaller.TenantAsync(context, keys, ApiKeyScopes.Read);

    /// <summary>
    /// For the reads that filter (breakdown, timeseries, recent events): a key scoped to a project, application or team
    /// reads its scope only — the request gets <c>filter[kind]=value</c>, and naming another value for it is a 403.
    /// </summary>
    public static async Task<(string? TenantId, IResult? Refusal)> UsageReaderAsync(HttpContext context, IApiKeyResolver keys)
    {
        var (tenant, key, refusal) = await TenantCaller.CallerAsync(context, keys, ApiKeyScopes.Read);
        if (refusal is not null || key is not { IsScoped: true })
        {
            return (tenant, refusal);
        }

        var parameter = $"filter[{key.ScopeKind}]";
        var asked = context.Request.Query[parameter];
        if (!StringValues.IsNullOrEmpty(asked) && asked.ToString() != key.ScopeValue)
        {
            return (null, KeyScope.Refusal(key));
        }

        if (StringValues.IsNullOrEmpty(asked))
        {
            context.Request.QueryString = context.Request.QueryString.Add(parameter, key.ScopeValue!);
        }

        return (tenant, null);
    }
}
