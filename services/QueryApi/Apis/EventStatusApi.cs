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
        var events = app.MapGroup("/v1/events").WithTags("Events");
        events.MapGet("/", ListAsync);
        events.MapGet("/{eventId}", async (string eventId, HttpContext context, IApiKeyResolver keys, EventLookups lookups, DedupeClaims claims) =>
        {
            var (caller, refusal) = await Caller.TenantAsync(context, keys);
            if (refusal is not null)
            {
                return refusal;
            }

            var tenant = caller!;
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
                        cost_usd = p.Priced ? Money.Format(p.CostUsd) : null, unpriced_reason = UnpricedReason(p.Priced, p.Model, p.UnpricedReason),
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

    /// <summary>
    /// <c>GET /v1/events?from=&amp;to=&amp;limit=&amp;cursor=&amp;filter[…]=</c>: the tenant's stored events, newest first (default: the
    /// last 24 hours, 100 a page, at most 1,000); <c>next_cursor</c> continues where a page ended.
    /// </summary>
    private static async Task<IResult> ListAsync(HttpContext context, IApiKeyResolver keys, EventLookups lookups, TimeProvider time)
    {
        var (tenant, refusal) = await Caller.UsageReaderAsync(context, keys);
        if (refusal is not null)
        {
            return refusal;
        }

        var query = context.Request.Query;
        var errors = new Dictionary<string, string[]>();
        var now = time.GetUtcNow();
        DateTimeOffset Instant(string name, DateTimeOffset fallback)
        {
            var text = query[name].ToString();
            if (text.Length == 0)
            {
                return fallback;
            }

            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value))
            {
                return value;
            }

            errors[name] = [$"'{name}' is not an RFC 3339 date-time: '{text}'."];
            return fallback;
        }

        var from = Instant("from", now.AddDays(-1));
        var to = Instant("to", now.AddMinutes(1));
        var limit = 100;
        if (query["limit"].ToString() is { Length: > 0 } text && (!int.TryParse(text, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 1000))
        {
            errors["limit"] = ["'limit' is 1 to 1000."];
        }

        (DateTime, string)? after = null;
        if (query["cursor"].ToString() is { Length: > 0 } cursor)
        {
            after = Cursor.Decode(cursor);
            if (after is null)
            {
                errors["cursor"] = ["'cursor' is not one this API gave out."];
            }
        }

        var filters = UsageApi.ParseFilters(query, errors);
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors, detail: "The events request is not valid.");
        }

        var page = await lookups.RecentAsync(tenant!, from, to, filters, limit, after, context.RequestAborted);
        return Results.Ok(new
        {
            events = page.Select(e => new
            {
                event_id = e.EventId, event_time = Utc(e.EventTime), source = e.Source, provider = e.Provider, model = e.Model,
                application = e.Application, project = e.Project, user_id = e.UserId, team = e.Team, environment = e.Environment,
                input_tokens = e.InputTokens, cache_read_tokens = e.CacheReadTokens, cache_write_tokens = e.CacheWriteTokens,
                cache_write_1h_tokens = e.CacheWrite1hTokens, output_tokens = e.OutputTokens, reasoning_tokens = e.ReasoningTokens,
                priced = e.Priced, cost_usd = e.Priced ? Money.Format(e.CostUsd) : null, unpriced_reason = UnpricedReason(e.Priced, e.Model, e.UnpricedReason),
                price_version_id = e.PriceVersionId, classification = e.Classification,
            }),
            next_cursor = page.Count == limit ? Cursor.Encode(page[^1].EventTime, page[^1].EventId) : null,
        });
    }

    /// <summary>
    /// Why an event has no cost: its provider reported no usage (<c>usage_missing</c>, as its sender said), its span named
    /// no model (<c>model_missing</c>), or no price matches it (<c>no_price</c>).
    /// </summary>
    public static string? UnpricedReason(bool priced, string model, string stored) =>
        priced ? null : stored == "usage_missing" ? stored : model.Length == 0 ? "model_missing" : "no_price";

    /// <summary>An opaque page cursor: the last row's time and id.</summary>
    private static class Cursor
    {
        public static string Encode(DateTime time, string eventId) =>
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{DateTime.SpecifyKind(time, DateTimeKind.Utc).Ticks.ToString(CultureInfo.InvariantCulture)}|{eventId}"))
                .TrimEnd('=').Replace('+', '-').Replace('/', '_');

        public static (DateTime, string)? Decode(string cursor)
        {
            try
            {
                var padded = cursor.Replace('-', '+').Replace('_', '/');
                padded += new string('=', (4 - padded.Length % 4) % 4);
                var text = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(padded));
                var bar = text.IndexOf('|');
                return bar > 0 && long.TryParse(text[..bar], CultureInfo.InvariantCulture, out var ticks)
                    ? (new DateTime(ticks, DateTimeKind.Utc), text[(bar + 1)..])
                    : null;
            }
            catch (Exception ex) when (ex is FormatException or ArgumentOutOfRangeException)
            {
                return null;
            }
        }
    }

    private static DateTime Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);
}
