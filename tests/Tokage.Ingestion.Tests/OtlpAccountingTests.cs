using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Tokage.Ingestion.Tests;

/// <summary>
/// Every span that carries usage is accounted for, through ingestion, the log and the processor to the query API:
/// billed, stored unpriced with its reason (no model, no price), skipped as a wrapper, or rejected with its reason —
/// never gone; and the OTLP report says which, per instrumentation scope.
/// </summary>
public sealed class OtlpAccountingTests(ProcessingStack stack) : IClassFixture<ProcessingStack>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task NoSpanWithUsageVanishesAndTheReportSaysWhatEachScopeProduced()
    {
        var key = (string)(await stack.Core.CreateTenantAsync("otlp-acct-" + Guid.NewGuid().ToString("N")[..8]))["api_key"]!;
        var trace = Guid.NewGuid().ToByteArray();
        var end = (ulong)DateTimeOffset.UtcNow.AddSeconds(-5).ToUnixTimeMilliseconds() * 1_000_000;
        Span Make(string id, string name, string parent, params (string Key, object Value)[] attributes)
        {
            var span = new Span
            {
                TraceId = ByteString.CopyFrom(trace), SpanId = ByteString.CopyFrom(Convert.FromHexString(id)),
                ParentSpanId = parent.Length == 0 ? ByteString.Empty : ByteString.CopyFrom(Convert.FromHexString(parent)),
                Name = name, StartTimeUnixNano = end - 1_000_000_000, EndTimeUnixNano = end,
            };
            span.Attributes.Add(attributes.Select(a => new KeyValue
            {
                Key = a.Key,
                Value = a.Value switch { string s => new AnyValue { StringValue = s }, double d => new AnyValue { DoubleValue = d }, _ => new AnyValue { IntValue = Convert.ToInt64(a.Value) } },
            }));
            return span;
        }

        var openai = new ScopeSpans { Scope = new InstrumentationScope { Name = "opentelemetry.instrumentation.openai_v2", Version = "2.1b0" } };
        openai.Spans.Add(
        [
            Make("0000000000000a01", "invoke_agent triage", "", ("gen_ai.operation.name", "invoke_agent"), ("gen_ai.usage.input_tokens", 1500), ("gen_ai.usage.output_tokens", 150)),
            Make("0000000000000a02", "chat gpt-4o", "0000000000000a01", ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"),
                ("gen_ai.response.model", "gpt-4o"), ("gen_ai.usage.input_tokens", "1000"), ("gen_ai.usage.output_tokens", 100.0), ("gen_ai.usage.cost", 0.0035)),
            Make("0000000000000a03", "chat", "0000000000000a01", ("gen_ai.operation.name", "chat"), ("gen_ai.usage.input_tokens", 400), ("gen_ai.usage.output_tokens", 40)),
            Make("0000000000000a04", "chat my-local-llama", "0000000000000a01", ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "ollama"),
                ("gen_ai.request.model", "my-local-llama"), ("gen_ai.usage.input_tokens", 90), ("gen_ai.usage.output_tokens", 10)),
            Make("0000000000000a05", "chat gpt-4o", "0000000000000a01", ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"),
                ("gen_ai.response.model", "gpt-4o"), ("gen_ai.usage.input_tokens", -5), ("gen_ai.usage.output_tokens", 1)),
            Make("0000000000000a06", "execute_tool lookup", "0000000000000a01", ("gen_ai.operation.name", "execute_tool")),
        ]);
        var genkit = new ScopeSpans { Scope = new InstrumentationScope { Name = "genkit-tracer", Version = "v1" } };
        genkit.Spans.Add(
        [
            Make("0000000000000b02", "generate", "", ("genkit:type", "util"), ("genkit:output", """{"usage":{"inputTokens":800,"outputTokens":20}}""")),
            Make("0000000000000b03", "googleai/gemini-2.5-flash", "0000000000000b02", ("genkit:type", "action"), ("genkit:metadata:subtype", "model"),
                ("genkit:name", "googleai/gemini-2.5-flash"), ("genkit:output", """{"usage":{"inputTokens":800,"outputTokens":20,"thoughtsTokens":30,"totalTokens":850}}""")),
        ]);
        var resource = new Resource();
        resource.Attributes.Add(new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = "triage-bot" } });
        var resourceSpans = new ResourceSpans { Resource = resource };
        resourceSpans.ScopeSpans.Add([openai, genkit]);
        var export = new ExportTraceServiceRequest();
        export.ResourceSpans.Add(resourceSpans);

        using var ingest = ProcessingStack.ClientFor(stack.Ingestion, key);
        using var response = await ingest.PostAsync("/v1/traces", new ByteArrayContent(export.ToByteArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/x-protobuf") } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = ExportTraceServiceResponse.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, answer.PartialSuccess.RejectedSpans);
        Assert.Contains("negative", answer.PartialSuccess.ErrorMessage);
        Assert.Contains("reported cost ignored on 1 span", answer.PartialSuccess.ErrorMessage);
        Assert.Contains("1 span(s) with usage name no model", answer.PartialSuccess.ErrorMessage);

        // Four events: gpt-4o billed, the model-less one and the local model unpriced with their reasons, Genkit's model call billed.
        var eventId = (string span) => Convert.ToHexStringLower(trace) + span;
        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        JsonArray events = [];
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            using var listed = await query.GetAsync("/v1/events?limit=100");
            events = listed.IsSuccessStatusCode ? JsonNode.Parse(await listed.Content.ReadAsStringAsync())!["events"]!.AsArray() : [];
            return events.Count == 4;
        }, Patience, "the four accounted spans are stored");
        var byId = events.ToDictionary(e => (string)e!["event_id"]!, e => e!);
        Assert.Equal((true, (string?)null), ((bool)byId[eventId("0000000000000a02")]["priced"]!, (string?)byId[eventId("0000000000000a02")]["unpriced_reason"]));
        Assert.Equal((false, "model_missing", 400L), ((bool)byId[eventId("0000000000000a03")]["priced"]!, (string?)byId[eventId("0000000000000a03")]["unpriced_reason"], (long)byId[eventId("0000000000000a03")]["input_tokens"]!));
        Assert.Equal((false, "no_price"), ((bool)byId[eventId("0000000000000a04")]["priced"]!, (string?)byId[eventId("0000000000000a04")]["unpriced_reason"]));
        var gemini = byId[eventId("0000000000000b03")];
        Assert.Equal((true, "googleai/gemini-2.5-flash", 50L, 30L), ((bool)gemini["priced"]!, (string)gemini["model"]!, (long)gemini["output_tokens"]!, (long)gemini["reasoning_tokens"]!));
        Assert.DoesNotContain(eventId("0000000000000a01"), byId.Keys);
        Assert.DoesNotContain(eventId("0000000000000b02"), byId.Keys);

        // The breakdown counts the unpriced ones as unpriced, never as $0.
        using var breakdown = await query.GetAsync($"/v1/usage/breakdown?from={DateTimeOffset.UtcNow.AddHours(-1):O}&to={DateTimeOffset.UtcNow.AddMinutes(1):O}".Replace("+", "%2B"));
        Assert.Equal(2L, (long)JsonNode.Parse(await breakdown.Content.ReadAsStringAsync())!["unpriced_events"]!);

        using var reported = await query.GetAsync("/v1/otlp/report");
        var report = JsonNode.Parse(await reported.Content.ReadAsStringAsync())!;
        var scopes = report["scopes"]!.AsArray().ToDictionary(s => (string)s!["scope"]!, s => s!);
        var openaiScope = scopes["opentelemetry.instrumentation.openai_v2"];
        Assert.Equal("2.1b0", (string)openaiScope["version"]!);
        Assert.Equal((6L, 1L, 1L, 3L), ((long)openaiScope["received"]!, (long)openaiScope["skipped_without_usage"]!, (long)openaiScope["skipped_wrapper"]!, (long)openaiScope["accepted"]!));
        Assert.Equal(1L, (long)openaiScope["rejected"]!["negative_count"]!);
        Assert.Equal(1L, (long)openaiScope["notes"]!["reported_cost_ignored"]!);
        Assert.Equal((1L, 1L, 1L), ((long)openaiScope["billed"]!, (long)openaiScope["unpriced"]!["model_missing"]!, (long)openaiScope["unpriced"]!["no_price"]!));
        var genkitScope = scopes["genkit-tracer"];
        Assert.Equal((2L, 1L, 1L, 1L), ((long)genkitScope["received"]!, (long)genkitScope["skipped_without_usage"]!, (long)genkitScope["accepted"]!, (long)genkitScope["billed"]!));
        Assert.Equal(8L, (long)report["totals"]!["received"]!);
    }
}
