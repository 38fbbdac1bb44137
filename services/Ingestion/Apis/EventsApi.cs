using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokage.ApiKeys;
using Tokage.Ingestion.Ingest;
using Tokage.Ingestion.Validation;

namespace Tokage.Ingestion.Apis;

/// <summary>
/// <c>POST /v1/events</c> (one event) and <c>POST /v1/events/batch</c> (<c>{"events": […]}</c>): 202 once every
/// accepted event is in the durable log, with the rejected ones listed; 400 when none is valid or the body is
/// not JSON; 401/403 for the key; 413; 429 and 503 with Retry-After.
/// </summary>
public static class EventsApi
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 16 };

    public static void MapEventsApi(this WebApplication app)
    {
        var events = app.MapGroup("/v1/events").WithTags("Events");
        events.MapPost("/", (HttpContext context, IngestPipeline pipeline, IApiKeyResolver keys, IOptions<IngestOptions> options) =>
            IngestAsync(context, pipeline, keys, options.Value, batch: false));
        events.MapPost("/batch", (HttpContext context, IngestPipeline pipeline, IApiKeyResolver keys, IOptions<IngestOptions> options) =>
            IngestAsync(context, pipeline, keys, options.Value, batch: true));
    }

    private static async Task<IResult> IngestAsync(HttpContext context, IngestPipeline pipeline, IApiKeyResolver keys, IngestOptions options, bool batch)
    {
        var (identity, refusal) = await keys.AuthenticateAsync(context, ApiKeyScopes.Ingest);
        if (refusal is not null)
        {
            return refusal;
        }

        byte[] body;
        try
        {
            body = await RequestBody.ReadAsync(context.Request, batch ? options.MaxBatchBytes : options.MaxEventBytes, context.RequestAborted);
        }
        catch (RequestBody.TooLargeException ex)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, ex.Message + (batch ? "" : " Send larger sets to /v1/events/batch."));
        }
        catch (RequestBody.UnsupportedEncodingException ex)
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, ex.Message);
        }
        catch (InvalidDataException ex)
        {
            return Problem(StatusCodes.Status400BadRequest, $"The body could not be decompressed: {ex.Message}");
        }

        // JSON text is UTF-8; a body that is not cannot be read field by field.
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return Problem(StatusCodes.Status400BadRequest, "The body is not valid UTF-8.");
        }

        List<IngestCandidate> candidates;
        try
        {
            using var document = JsonDocument.Parse(body, DocumentOptions);
            var root = document.RootElement;
            if (!batch)
            {
                candidates = [Candidate(root)];
            }
            else if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("events", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                return Problem(StatusCodes.Status400BadRequest, "A batch is {\"events\": [ … ]}.");
            }
            else if (list.GetArrayLength() > options.MaxBatchEvents)
            {
                return Problem(StatusCodes.Status413PayloadTooLarge, $"A batch holds at most {options.MaxBatchEvents:N0} events; this one has {list.GetArrayLength():N0}.");
            }
            else if (list.GetArrayLength() == 0)
            {
                return Problem(StatusCodes.Status400BadRequest, "The batch has no events.");
            }
            else
            {
                candidates = list.EnumerateArray().Select(Candidate).ToList();
            }
        }
        catch (JsonException ex)
        {
            return Problem(StatusCodes.Status400BadRequest, $"The body is not valid JSON: {ex.Message}");
        }

        var outcome = await pipeline.IngestAsync(identity!, candidates, "http", context.RequestAborted);
        return ToResult(context, outcome);
    }

    private static IngestCandidate Candidate(JsonElement element)
    {
        var parsed = NativeEventJson.Parse(element);
        return new IngestCandidate(parsed.Event, parsed.Problems, parsed.HadClientCost);
    }

    internal static IResult ToResult(HttpContext context, IngestOutcome outcome)
    {
        switch (outcome.Failure)
        {
            case IngestFailure.RateLimited:
                context.Response.Headers.RetryAfter = Seconds(outcome.RetryAfter);
                return Problem(StatusCodes.Status429TooManyRequests, $"The tenant's rate limit is reached; nothing was accepted. Retry after {Seconds(outcome.RetryAfter)} s.");
            case IngestFailure.LogUnavailable:
                context.Response.Headers.RetryAfter = Seconds(outcome.RetryAfter);
                return Problem(StatusCodes.Status503ServiceUnavailable, "The event log did not acknowledge in time; nothing was accepted. Retry with the same event ids.");
            case IngestFailure.LimiterUnavailable:
                context.Response.Headers.RetryAfter = Seconds(outcome.RetryAfter);
                return Problem(StatusCodes.Status503ServiceUnavailable, outcome.FailureDetail!);
            case IngestFailure.ExceedsBurst:
                return Problem(StatusCodes.Status400BadRequest, outcome.FailureDetail!);
        }

        var body = new
        {
            accepted = outcome.Accepted,
            rejected = outcome.Rejected.Select(r => new
            {
                index = r.Index,
                event_id = r.EventId,
                errors = r.Errors.Select(p => new { field = p.Field, code = p.Code, message = p.Message }),
            }),
            warnings = outcome.Warnings,
        };
        return Results.Json(body, statusCode: outcome.Accepted > 0 ? StatusCodes.Status202Accepted : StatusCodes.Status400BadRequest);
    }

    internal static string Seconds(TimeSpan delay) => Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static IResult Problem(int status, string detail) => Results.Problem(statusCode: status, detail: detail);
}
