using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using Tokage.ApiKeys;
using Tokage.Ingestion.Apis;
using Tokage.Ingestion.Ingest;
using Tokage.Otlp;

namespace Tokage.Ingestion.Otlp;

/// <summary>
/// OTLP/HTTP: <c>POST /v1/traces</c> in <c>application/x-protobuf</c> or <c>application/json</c>, gzip or not; 200 with the
/// export response (and its <c>partial_success</c> when spans were refused) in the request's encoding; 400 for a
/// payload that does not decode, 401/403 for the key, 415, 413, and 429/503 with <c>Retry-After</c> when the client
/// should retry. <c>/v1/metrics</c> and <c>/v1/logs</c> answer success so a collector pipeline pointed at Tokage does
/// not fail: only traces are billed.
/// </summary>
public static class OtlpHttpApi
{
    private const string Protobuf = "application/x-protobuf";
    private const string Json = "application/json";

    public static void MapOtlpHttpApi(this WebApplication app)
    {
        var otlp = app.MapGroup("/v1").WithTags("OTLP");
        otlp.MapPost("/traces", ExportAsync);
        otlp.MapPost("/metrics", (HttpContext context) => Empty(context));
        otlp.MapPost("/logs", (HttpContext context) => Empty(context));
    }

    private static async Task<IResult> ExportAsync(HttpContext context, OtlpIngest ingest, IApiKeyResolver keys, Microsoft.Extensions.Options.IOptions<IngestOptions> options)
    {
        var json = IsJson(context.Request.ContentType);
        if (!json && !IsProtobuf(context.Request.ContentType))
        {
            return Status(context, json, StatusCodes.Status415UnsupportedMediaType, $"Content-Type must be {Protobuf} or {Json}.");
        }

        var (identity, refusal) = await keys.AuthenticateAsync(context, ApiKeyScopes.Ingest);
        if (refusal is not null)
        {
            return refusal;
        }

        ExportTraceServiceRequest request;
        try
        {
            var body = await RequestBody.ReadAsync(context.Request, options.Value.MaxBatchBytes, context.RequestAborted);
            request = json ? OtlpJson.ParseTraceRequest(body) : ExportTraceServiceRequest.Parser.ParseFrom(body);
        }
        catch (RequestBody.TooLargeException ex)
        {
            return Status(context, json, StatusCodes.Status413PayloadTooLarge, ex.Message);
        }
        catch (RequestBody.UnsupportedEncodingException ex)
        {
            return Status(context, json, StatusCodes.Status415UnsupportedMediaType, ex.Message);
        }
        catch (Exception ex) when (ex is InvalidDataException or InvalidProtocolBufferException or FormatException)
        {
            return Status(context, json, StatusCodes.Status400BadRequest, $"The export request does not decode as OTLP {(json ? "JSON" : "protobuf")}: {ex.Message}");
        }

        var outcome = await ingest.IngestAsync(identity!, request, context.RequestAborted);
        switch (outcome.Failure)
        {
            case IngestFailure.RateLimited:
                context.Response.Headers.RetryAfter = EventsApi.Seconds(outcome.RetryAfter);
                return Status(context, json, StatusCodes.Status429TooManyRequests, "The tenant's rate limit is reached; nothing was accepted.");
            case IngestFailure.LogUnavailable:
                context.Response.Headers.RetryAfter = EventsApi.Seconds(outcome.RetryAfter);
                return Status(context, json, StatusCodes.Status503ServiceUnavailable, "The event log did not acknowledge in time; nothing was accepted. Retry the export.");
            case IngestFailure.LimiterUnavailable:
                context.Response.Headers.RetryAfter = EventsApi.Seconds(outcome.RetryAfter);
                return Status(context, json, StatusCodes.Status503ServiceUnavailable, outcome.FailureDetail!);
            case IngestFailure.ExceedsBurst:
                return Status(context, json, StatusCodes.Status400BadRequest, outcome.FailureDetail!);
            case IngestFailure.AncestryUnavailable:
                context.Response.Headers.RetryAfter = EventsApi.Seconds(outcome.RetryAfter);
                return Status(context, json, StatusCodes.Status503ServiceUnavailable, "Which spans have usage below them cannot be read (Redis); nothing was accepted. Retry the export.");
        }

        return Message(json, outcome.Response, StatusCodes.Status200OK);
    }

    /// <summary>Success with an empty export response, for the signals Tokage does not bill.</summary>
    private static IResult Empty(HttpContext context) =>
        IsJson(context.Request.ContentType) ? Results.Text("{}", Json, statusCode: 200) : Results.Bytes([], Protobuf);

    /// <summary>OTLP/HTTP errors carry a <c>google.rpc.Status</c> in the request's encoding.</summary>
    private static IResult Status(HttpContext context, bool json, int status, string message) =>
        Message(json, new Google.Rpc.Status { Code = status switch { 400 => 3, 401 => 16, 403 => 7, 413 or 429 => 8, 415 => 3, _ => 14 }, Message = message }, status);

    private static IResult Message(bool json, IMessage message, int status) => json
        ? Results.Text(JsonFormatter.Default.Format(message), Json, statusCode: status)
        : new ProtobufResult(message.ToByteArray(), status);

    /// <summary>A protobuf body with any status (Results.Bytes only answers 200).</summary>
    private sealed class ProtobufResult(byte[] body, int status) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            httpContext.Response.ContentType = Protobuf;
            return httpContext.Response.Body.WriteAsync(body).AsTask();
        }
    }

    private static bool IsJson(string? contentType) => contentType?.StartsWith(Json, StringComparison.OrdinalIgnoreCase) == true;

    private static bool IsProtobuf(string? contentType) =>
        contentType?.StartsWith(Protobuf, StringComparison.OrdinalIgnoreCase) == true || contentType?.StartsWith("application/protobuf", StringComparison.OrdinalIgnoreCase) == true;
}
