using Tokage.ApiKeys;
using Tokage.PriceRegistry.Repricing;

namespace Tokage.PriceRegistry.Apis;

/// <summary><c>GET /v1/repricings/{id}</c>: a repricing's state and progress (the operator's, or a tenant's own).</summary>
public static class RepricingsApi
{
    public static void MapRepricingsApi(this WebApplication app)
    {
        app.MapGroup("/v1/repricings").WithTags("Repricings")
            .MapGet("/{id:long}", GetAsync);
    }

    private static async Task<IResult> GetAsync(long id, HttpContext http, RepricingStore store, CancellationToken cancellationToken)
    {
        var (caller, refusal) = await PriceCaller.ResolveAsync(http, ApiKeyScopes.Read, anonymous: false);
        if (caller is null)
        {
            return refusal!;
        }

        return await store.FindAsync(id, cancellationToken) is { } job && (caller.IsOperator || job.TenantId == caller.TenantId)
            ? Results.Ok(Describe(job))
            : Results.Problem(statusCode: StatusCodes.Status404NotFound, detail: $"No repricing {id}.");
    }

    public static object Describe(RepricingJob job) => new
    {
        repricing_id = job.Id,
        kind = RepricingStore.Name(job.Kind),
        version_id = job.VersionId,
        corrects = job.Corrects,
        tenant_id = job.TenantId.Length == 0 ? null : job.TenantId,
        since = job.Since,
        status = job.Status,
        events_scanned = job.EventsScanned,
        events_adjusted = job.EventsAdjusted,
        adjustments_usd = job.AdjustmentsUsd.ToString(System.Globalization.CultureInfo.InvariantCulture),
        error = job.Error,
        created_at = job.CreatedAt,
        started_at = job.StartedAt,
        finished_at = job.FinishedAt,
    };
}
