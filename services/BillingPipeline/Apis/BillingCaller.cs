using Tokage.ApiKeys;

namespace Tokage.BillingPipeline.Apis;

/// <summary>Runs a billing request as its tenant: a key with the <c>billing</c> (or <c>admin</c>) scope, or the admin token with <c>?tenant=</c>.</summary>
internal static class BillingCaller
{
    public static async Task<IResult> AsTenantAsync(HttpContext context, Func<Guid, Task<IResult>> work)
    {
        var keys = context.RequestServices.GetRequiredService<IApiKeyResolver>();
        var (tenant, refusal) = await TenantCaller.TenantAsync(context, keys, ApiKeyScopes.Billing);
        return refusal ?? await work(Guid.Parse(tenant!));
    }
}
