using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using Tokage.Contracts.V1;

namespace Tokage.SyntheticMonitor.Probes;

/// <summary>What one probe's send came to: accepted (in the log), refused (a 4xx/5xx or an error status) or failed (no answer).</summary>
public sealed record ProbeSend(ProbePath Path, string EventId, DateTimeOffset SentAt, string Outcome, TimeSpan Elapsed, string? Detail);

/// <summary>
/// Sends a probe through one of the four public paths, as any application would: native JSON over HTTP, native gRPC,
/// OTLP/HTTP (protobuf) and OTLP/gRPC, each with the monitor's key, known token counts and the synthetic mark.
/// </summary>
public sealed class ProbeSender(
    IHttpClientFactory clients,
    IngestService.IngestServiceClient ingest,
    TraceService.TraceServiceClient traces,
    IOptions<MonitorOptions> options,
    TimeProvider time)
{
    public const string IngestionClient = "ingestion";
    public const string OtlpHttpClient = "otlp-http";
    public const string SyntheticKey = "tokage.synthetic";

    public async Task<ProbeSend> SendAsync(ProbePath path, string apiKey, CancellationToken cancellationToken)
    {
        var sentAt = time.GetUtcNow();
        // OTLP events are named by trace and span id; native probes use the same shape, so every id says it is a probe.
        var traceId = RandomNumberGenerator.GetBytes(16);
        var spanId = RandomNumberGenerator.GetBytes(8);
        var eventId = Convert.ToHexStringLower(traceId) + Convert.ToHexStringLower(spanId);
        var clock = Stopwatch.StartNew();
        try
        {
            var (accepted, detail) = path switch
            {
                ProbePath.NativeHttp => await NativeHttpAsync(eventId, sentAt, apiKey, cancellationToken),
                ProbePath.NativeGrpc => await NativeGrpcAsync(eventId, sentAt, apiKey, cancellationToken),
                ProbePath.OtlpHttp => await OtlpHttpAsync(traceId, spanId, sentAt, apiKey, cancellationToken),
                _ => await OtlpGrpcAsync(traceId, spanId, sentAt, apiKey, cancellationToken),
            };
            return new(path, eventId, sentAt, accepted ? "accepted" : "refused", clock.Elapsed, detail);
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new(path, eventId, sentAt, ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded ? "failed" : "refused", clock.Elapsed, ex.Status.Detail);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new(path, eventId, sentAt, "failed", clock.Elapsed, ex.Message);
        }
    }

    private TokenUsageEvent NativeEvent(string eventId, DateTimeOffset at)
    {
        var settings = options.Value;
        var e = new TokenUsageEvent
        {
            EventId = eventId,
            Timestamp = Timestamp.FromDateTimeOffset(at),
            Provider = settings.Provider,
            Model = settings.Model,
            Usage = new TokenUsage { InputTokens = settings.InputTokens, OutputTokens = settings.OutputTokens },
            Application = "synthetic-monitor",
        };
        e.Metadata[SyntheticKey] = "true";
        return e;
    }

    private async Task<(bool, string?)> NativeHttpAsync(string eventId, DateTimeOffset at, string apiKey, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events")
        {
            Content = JsonContent.Create(new
            {
                event_id = eventId,
                timestamp = at.ToString("O"),
                provider = settings.Provider,
                model = settings.Model,
                usage = new { input_tokens = settings.InputTokens, output_tokens = settings.OutputTokens },
                application = "synthetic-monitor",
                metadata = new Dictionary<string, string> { [SyntheticKey] = "true" },
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var http = clients.CreateClient(IngestionClient);
        using var response = await http.SendAsync(request, cancellationToken);
        return response.IsSuccessStatusCode ? (true, null) : (false, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
    }

    private async Task<(bool, string?)> NativeGrpcAsync(string eventId, DateTimeOffset at, string apiKey, CancellationToken cancellationToken)
    {
        var answer = await ingest.IngestAsync(NativeEvent(eventId, at), Authorization(apiKey), cancellationToken: cancellationToken);
        return answer.Accepted == 1 ? (true, null) : (false, string.Join("; ", answer.Rejected.SelectMany(r => r.Errors).Select(e => e.Message)));
    }

    private async Task<(bool, string?)> OtlpHttpAsync(byte[] traceId, byte[] spanId, DateTimeOffset at, string apiKey, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/traces") { Content = new ByteArrayContent(Export(traceId, spanId, at).ToByteArray()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var http = clients.CreateClient(OtlpHttpClient);
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return (false, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        // A partial success names spans that were refused: the probe's one span is all there is.
        var body = ExportTraceServiceResponse.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync(cancellationToken));
        return body.PartialSuccess is { RejectedSpans: > 0 } partial ? (false, partial.ErrorMessage) : (true, null);
    }

    private async Task<(bool, string?)> OtlpGrpcAsync(byte[] traceId, byte[] spanId, DateTimeOffset at, string apiKey, CancellationToken cancellationToken)
    {
        var answer = await traces.ExportAsync(Export(traceId, spanId, at), Authorization(apiKey), cancellationToken: cancellationToken);
        return answer.PartialSuccess is { RejectedSpans: > 0 } partial ? (false, partial.ErrorMessage) : (true, null);
    }

    /// <summary>One chat span with GenAI semantic-convention usage, as an instrumented application exports it.</summary>
    private ExportTraceServiceRequest Export(byte[] traceId, byte[] spanId, DateTimeOffset at)
    {
        var settings = options.Value;
        var end = (ulong)at.ToUnixTimeMilliseconds() * 1_000_000;
        var span = new Span
        {
            TraceId = ByteString.CopyFrom(traceId),
            SpanId = ByteString.CopyFrom(spanId),
            Name = $"chat {settings.Model}",
            Kind = Span.Types.SpanKind.Client,
            StartTimeUnixNano = end - 1_000_000,
            EndTimeUnixNano = end,
            Attributes =
            {
                Attribute("gen_ai.operation.name", "chat"),
                Attribute("gen_ai.provider.name", settings.Provider),
                Attribute("gen_ai.request.model", settings.Model),
                new KeyValue { Key = "gen_ai.usage.input_tokens", Value = new AnyValue { IntValue = settings.InputTokens } },
                new KeyValue { Key = "gen_ai.usage.output_tokens", Value = new AnyValue { IntValue = settings.OutputTokens } },
            },
        };
        return new ExportTraceServiceRequest
        {
            ResourceSpans =
            {
                new ResourceSpans
                {
                    Resource = new Resource { Attributes = { Attribute("service.name", "synthetic-monitor"), Attribute(SyntheticKey, "true") } },
                    ScopeSpans = { new ScopeSpans { Scope = new InstrumentationScope { Name = "Tokage.SyntheticMonitor" }, Spans = { span } } },
                },
            },
        };
    }

    private static KeyValue Attribute(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    private static Metadata Authorization(string apiKey) => new() { { "authorization", $"Bearer {apiKey}" } };
}
