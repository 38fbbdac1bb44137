using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Google.Protobuf;
using Grpc.Net.Client;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using Tokage.Contracts.V1;
using Tokage.Testing;
using Metadata = Grpc.Core.Metadata;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace Tokage.Bench;

/// <summary>
/// OTLP trace ingest: spans/s of 512-span exports over OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC (traces of an
/// agent span and three model calls: mapping, usage ancestry on Redis, validation, log), beside native gRPC batches of
/// 512 events in the same run.
/// </summary>
internal static class OtlpBenchmark
{
    private const int SpansPerExport = 512;
    private const int SpansPerTrace = 4;
    private const int Warmup = 4;

    public static Command CreateCommand()
    {
        var exports = new Option<int>("--exports") { Description = "512-span exports per measurement.", DefaultValueFactory = _ => 100 };
        var concurrency = new Option<int>("--concurrency") { Description = "Exports in flight at once.", DefaultValueFactory = _ => 4 };
        var quick = new Option<bool>("--quick") { Description = "10 exports each: a smoke run." };
        var json = new Option<string>("--json") { Description = "Where the JSON report goes.", DefaultValueFactory = _ => ".tokage/bench/otlp.json" };
        var command = new Command("otlp", "OTLP spans/s (HTTP protobuf, HTTP JSON, gRPC) beside native batch ingest.") { exports, concurrency, quick, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var report = new BenchReport("otlp");
            await RunAsync(parse.GetValue(quick) ? 10 : parse.GetValue(exports), parse.GetValue(concurrency), report, cancellationToken);
            report.PrintMarkdown(Console.Out);
            await report.WriteJsonAsync(parse.GetValue(json)!);
            return 0;
        });
        return command;
    }

    private static async Task RunAsync(int exports, int concurrency, BenchReport report, CancellationToken cancellationToken)
    {
        report.Parameter("exports", exports);
        report.Parameter("spans_per_export", SpansPerExport);
        report.Parameter("spans_per_trace", SpansPerTrace);
        report.Parameter("concurrency", concurrency);
        var stack = new ControlPlaneStack { Settings = new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning" } };
        await Progress.StepAsync("starting PostgreSQL, Redis, the control plane and auth", stack.InitializeAsync);
        try
        {
            var ingestion = await Progress.StepAsync("starting ingestion on Redis Streams", () => stack.StartIngestionAsync());
            var tenant = await stack.PostAsync("/v1/tenants", new { name = "bench-otlp", rate_limit = new { events_per_second = 1_000_000, burst = 1_000_000 } });
            var key = (string)tenant["api_key"]!;
            var total = exports + Warmup;

            using var channel = GrpcChannel.ForAddress(ingestion.GrpcUri);
            var auth = new Metadata { { "authorization", $"Bearer {key}" } };
            var native = new IngestService.IngestServiceClient(channel);
            var nativeBatches = Enumerable.Range(0, total).Select(b => new IngestBatchRequest
            {
                Events = { Enumerable.Range(0, SpansPerExport).Select(i => NativeEvent($"native-{b}-{i}")) },
            }).ToList();
            var baseline = await Progress.StepAsync($"{total} native gRPC batches of {SpansPerExport}", () => Load.ThroughputAsync(total, Warmup, concurrency, SpansPerExport, async b =>
                await native.IngestBatchAsync(nativeBatches[b], auth, cancellationToken: cancellationToken)));

            using var http = new HttpClient { BaseAddress = ingestion.HttpUri };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            var protobuf = Enumerable.Range(0, total).Select(_ => Export().ToByteArray()).ToList();
            var httpProtobuf = await Progress.StepAsync($"{total} OTLP/HTTP protobuf exports", () => Load.ThroughputAsync(total, Warmup, concurrency, SpansPerExport, async b =>
                await PostAsync(http, protobuf[b], "application/x-protobuf", cancellationToken)));
            report.Add(new Measurement($"OTLP/HTTP protobuf, {SpansPerExport}-span exports", httpProtobuf, "spans/s", $"native gRPC IngestBatch of {SpansPerExport}", baseline));

            var jsonBodies = Enumerable.Range(0, total).Select(_ => Encoding.UTF8.GetBytes(OtlpJsonText(Export()))).ToList();
            var httpJson = await Progress.StepAsync($"{total} OTLP/HTTP JSON exports", () => Load.ThroughputAsync(total, Warmup, concurrency, SpansPerExport, async b =>
                await PostAsync(http, jsonBodies[b], "application/json", cancellationToken)));
            report.Add(new Measurement($"OTLP/HTTP JSON, {SpansPerExport}-span exports", httpJson, "spans/s", $"native gRPC IngestBatch of {SpansPerExport}", baseline));

            var traces = new TraceService.TraceServiceClient(channel);
            var grpcExports = Enumerable.Range(0, total).Select(_ => Export()).ToList();
            var grpc = await Progress.StepAsync($"{total} OTLP/gRPC exports", () => Load.ThroughputAsync(total, Warmup, concurrency, SpansPerExport, async b =>
            {
                var reply = await traces.ExportAsync(grpcExports[b], auth, cancellationToken: cancellationToken);
                if (reply.PartialSuccess?.RejectedSpans > 0)
                {
                    throw new InvalidOperationException($"export {b}: {reply.PartialSuccess.ErrorMessage}");
                }
            }));
            report.Add(new Measurement($"OTLP/gRPC, {SpansPerExport}-span exports", grpc, "spans/s", $"native gRPC IngestBatch of {SpansPerExport}", baseline));
        }
        finally
        {
            await stack.DisposeAsync();
        }
    }

    private static async Task PostAsync(HttpClient http, byte[] body, string contentType, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await http.PostAsync("/v1/traces", content, cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"{contentType}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
    }

    /// <summary>512 spans: traces of an agent root without usage and three model calls under it.</summary>
    private static ExportTraceServiceRequest Export()
    {
        var scope = new ScopeSpans { Scope = new InstrumentationScope { Name = "bench" } };
        var end = (ulong)DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeMilliseconds() * 1_000_000;
        for (var t = 0; t < SpansPerExport / SpansPerTrace; t++)
        {
            var traceId = ByteString.CopyFrom(Guid.NewGuid().ToByteArray());
            var root = ByteString.CopyFrom(BitConverter.GetBytes(Random.Shared.NextInt64(1, long.MaxValue)));
            scope.Spans.Add(new Span { TraceId = traceId, SpanId = root, Name = "invoke_agent bench", StartTimeUnixNano = end - 2_000_000_000, EndTimeUnixNano = end });
            for (var c = 1; c < SpansPerTrace; c++)
            {
                scope.Spans.Add(new Span
                {
                    TraceId = traceId, SpanId = ByteString.CopyFrom(BitConverter.GetBytes(Random.Shared.NextInt64(1, long.MaxValue))), ParentSpanId = root,
                    Name = "chat gpt-4o", Kind = Span.Types.SpanKind.Client, StartTimeUnixNano = end - 1_000_000_000, EndTimeUnixNano = end,
                    Attributes =
                    {
                        Text("gen_ai.operation.name", "chat"), Text("gen_ai.provider.name", "openai"), Text("gen_ai.request.model", "gpt-4o"),
                        Number("gen_ai.usage.input_tokens", 1_200), Number("gen_ai.usage.output_tokens", 300), Number("gen_ai.usage.cache_read.input_tokens", 200),
                    },
                });
            }
        }

        var resource = new Resource { Attributes = { Text("service.name", "bench-app"), Text("tokage.team", "bench") } };
        return new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { Resource = resource, ScopeSpans = { scope } } } };
    }

    /// <summary>OTLP/JSON as exporters write it: protobuf JSON with lowerCamelCase names, but hex trace and span ids.</summary>
    private static string OtlpJsonText(ExportTraceServiceRequest request)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(JsonFormatter.Default.Format(request))!;
        foreach (var span in node["resourceSpans"]!.AsArray().SelectMany(r => r!["scopeSpans"]!.AsArray()).SelectMany(s => s!["spans"]!.AsArray()))
        {
            foreach (var field in new[] { "traceId", "spanId", "parentSpanId" })
            {
                if (span![field] is { } id)
                {
                    span[field] = Convert.ToHexStringLower(Convert.FromBase64String((string)id!));
                }
            }
        }

        return node.ToJsonString();
    }

    private static KeyValue Text(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    private static KeyValue Number(string key, long value) => new() { Key = key, Value = new AnyValue { IntValue = value } };

    private static TokenUsageEvent NativeEvent(string id) => new()
    {
        EventId = id, Timestamp = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Provider = "openai", Model = "gpt-4o",
        Usage = new TokenUsage { InputTokens = 1_200, CacheReadTokens = 200, OutputTokens = 300 },
        Application = "bench-app", Team = "bench",
    };
}
