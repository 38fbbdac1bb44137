using System.Globalization;
using Tokage.Analytics.Queries;
using Tokage.ApiKeys;
using Tokage.EventLog;

namespace Tokage.QueryApi.Apis;

/// <summary>
/// <c>GET /v1/events/{event_id}</c>: what became of an event id of the caller's tenant — <c>processed</c> (with its
/// cost, price version and log position, and any later records that repeated it), <c>quarantined</c> (why),
/// <c>accepted</c> (the processor has claimed it and is storing it), or 404 when Tokage has no record of it (never
/// accepted, or still waiting in the log).
/// </summary>
public static class EventStatusApi
{
    public static void MapEventStatusApi(this WebApplication app)
    {
        app.MapGroup("/v1/events").WithTags("Events").MapGet("/{eventId}", async (string eventId, HttpContext context, IApiKeyResolver keys, EventLookups lookups, DedupeClaims claims) =>
        {
            var (identity, refusal) = await keys.AuthenticateAsync(context, ApiKeyScopes.Read);
            if (refusal is not null)
            {
                return refusal;
            }

            var tenant = identity!.TenantId;
            var records = await lookups.FindAsync(tenant, eventId, context.RequestAborted);
            var duplicates = records.Duplicates.Select(d => new { log_position = d.LogPosition, duplicate_of = d.DuplicateOf, received_at = Utc(d.ReceivedTime) });
            var quarantined = records.Quarantined.Select(q => new { reason = q.Reason, detail = q.Detail, log_position = q.LogPosition, received_at = Utc(q.ReceivedTime) });
            if (records.Processed is { } p)
            {
                return Results.Ok(new
                {
                    event_id = eventId,
                    status = "processed",
                    processed = new
                    {
                        event_time = Utc(p.EventTime), ingest_time = Utc(p.IngestTime), source = p.Source, provider = p.Provider, model = p.Model,
                        priced = p.Priced,
                        // Money as a decimal string: exact, whatever the client's JSON number type.
                        cost_usd = p.Priced ? Money.Format(p.CostUsd) : null,
                        price_version_id = p.PriceVersionId, priced_model = p.PricedModel, classification = p.Classification, log_position = p.LogPosition,
                    },
                    duplicates,
                    quarantined,
                });
            }

            if (records.Quarantined.Count > 0)
            {
                return Results.Ok(new { event_id = eventId, status = "quarantined", duplicates, quarantined });
            }

            return await claims.HolderAsync(tenant, eventId) is { } position
                ? Results.Ok(new { event_id = eventId, status = "accepted", log_position = position })
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found",
                    detail: $"No record of event '{eventId}' for this tenant: it was not accepted, or it is still waiting in the event log.");
        });
    }

    private static DateTime Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);
}
