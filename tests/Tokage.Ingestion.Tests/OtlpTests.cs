using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Tokage.Ingestion.Tests;

/// <summary>
/// OTLP from a real client, the OpenTelemetry .NET SDK's OTLP exporter, over HTTP/protobuf and gRPC, through ingestion,
/// the log and the processor to the query API; and OTLP/JSON as exporters send it.
/// </summary>
public sealed class OtlpTests(ProcessingStack stack) : IClassFixture<ProcessingStack>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(OtlpExportProtocol.HttpProtobuf)]
    [InlineData(OtlpExportProtocol.Grpc)]
    public async Task ModelCallsAreBilledAndTheAgentSpanThatSumsThemIsNot(OtlpExportProtocol protocol)
    {
        var key = await NewKeyAsync();
        using var source = new ActivitySource("otlp-test-" + protocol);
        using var provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(source.Name)
            .SetResourceBuilder(ResourceBuilder.CreateDefault().AddService("support-bot").AddAttributes([new("tokage.team", "cx")]))
            .AddOtlpExporter(o =>
            {
                o.Protocol = protocol;
                o.Endpoint = protocol == OtlpExportProtocol.Grpc ? stack.Ingestion.GrpcUri : new Uri(stack.Ingestion.HttpUri, "/v1/traces");
                o.Headers = $"Authorization=Bearer {key}";
                o.ExportProcessorType = ExportProcessorType.Simple;
            })
            .Build()!;

        // An agent span around two model calls; the children end (and are exported) before the parent, each in its own request.
        var agent = source.StartActivity("invoke_agent support")!;
        agent.SetTag("gen_ai.operation.name", "invoke_agent");
        Activity Call(string system, string model, long input, long output, long cacheRead)
        {
            var call = source.StartActivity($"chat {model}")!;
            call.SetTag("gen_ai.operation.name", "chat");
            call.SetTag("gen_ai.provider.name", system);
            call.SetTag("gen_ai.request.model", model);
            call.SetTag("gen_ai.response.model", model);
            call.SetTag("gen_ai.usage.input_tokens", input);
            call.SetTag("gen_ai.usage.output_tokens", output);
            call.SetTag("gen_ai.usage.cache_read.input_tokens", cacheRead);
            call.SetTag("user.id", "u-42");
            call.Stop();
            return call;
        }

        var openai = Call("openai", "gpt-4o", 2_000, 200, 500);
        var anthropic = Call("anthropic", "claude-sonnet-4-5", 1_000, 100, 0);
        agent.SetTag("gen_ai.usage.input_tokens", 3_000L);
        agent.SetTag("gen_ai.usage.output_tokens", 300L);
        agent.Stop();
        Assert.True(provider.ForceFlush(30_000));

        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        var first = await ProcessedAsync(query, openai);
        var second = await ProcessedAsync(query, anthropic);
        // gpt-4o: 1,500 uncached × 0.0000025 + 500 cached × 0.00000125 + 200 × 0.00001.
        Assert.Equal(0.006375m, decimal.Parse((string)first["processed"]!["cost_usd"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("otlp", (string)first["processed"]!["source"]!);
        Assert.Equal("claude-sonnet-4-5", (string)second["processed"]!["priced_model"]!);

        // The agent span repeated its children's usage: never billed, though it came in a later request than they did.
        using var agentStatus = await query.GetAsync($"/v1/events/{EventId(agent)}");
        Assert.Equal(HttpStatusCode.NotFound, agentStatus.StatusCode);

        // The tenant's breakdown: the two model calls once each, by application from the resource's service.name.
        var now = DateTimeOffset.UtcNow;
        var breakdown = JsonNode.Parse(await query.GetStringAsync(
            $"/v1/usage/breakdown?from={now.AddHours(-1):yyyy-MM-ddTHH:mm:ssZ}&to={now.AddMinutes(5):yyyy-MM-ddTHH:mm:ssZ}&group_by=application,team"))!;
        var row = breakdown["rows"]!.AsArray().Single()!;
        Assert.Equal(("support-bot", "cx", 2ul), ((string)row["application"]!, (string)row["team"]!, (ulong)row["events"]!));
        Assert.Equal(3_000ul, (ulong)row["input_tokens"]!);
        // gpt-4o 0.006375 + claude-sonnet-4-5 (1,000 × 0.000003 + 100 × 0.000015 = 0.0045).
        Assert.Equal("0.010875", (string)row["cost_usd"]!);
    }

    [Fact]
    public async Task VercelStyleOuterSpansAreNotBilledAndUnknownModelsAreStoredUnpriced()
    {
        var key = await NewKeyAsync();
        using var source = new ActivitySource("otlp-vercel-test");
        using var provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(source.Name)
            .AddOtlpExporter(o =>
            {
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.Endpoint = new Uri(stack.Ingestion.HttpUri, "/v1/traces");
                o.Headers = $"x-api-key={key}";
                o.ExportProcessorType = ExportProcessorType.Batch;
            })
            .Build()!;

        // Vercel AI SDK 6: the step (doGenerate) carries gen_ai usage with the cache split in ai.usage.*; the root
        // ai.generateText repeats the summed ai.usage.* — all ended and exported together in one batch.
        var root = source.StartActivity("ai.generateText")!;
        root.SetTag("ai.operationId", "ai.generateText");
        root.SetTag("ai.model.id", "gpt-4o");
        root.SetTag("ai.model.provider", "openai.chat");
        root.SetTag("ai.usage.inputTokens", 1_200L);
        root.SetTag("ai.usage.outputTokens", 80L);
        var step = source.StartActivity("ai.generateText.doGenerate")!;
        step.SetTag("ai.operationId", "ai.generateText.doGenerate");
        step.SetTag("gen_ai.system", "openai.chat");
        step.SetTag("gen_ai.request.model", "gpt-4o");
        step.SetTag("gen_ai.usage.input_tokens", 1_200L);
        step.SetTag("gen_ai.usage.output_tokens", 80L);
        step.SetTag("ai.usage.inputTokenDetails.cacheReadTokens", 200L);
        step.Stop();
        root.Stop();
        var mystery = source.StartActivity("chat house-model-7")!;
        mystery.SetTag("gen_ai.operation.name", "chat");
        mystery.SetTag("gen_ai.provider.name", "openai");
        mystery.SetTag("gen_ai.request.model", "house-model-7");
        mystery.SetTag("gen_ai.usage.input_tokens", 10L);
        mystery.SetTag("gen_ai.usage.output_tokens", 5L);
        mystery.Stop();
        Assert.True(provider.ForceFlush(30_000));

        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        var billed = await ProcessedAsync(query, step);
        var unpriced = await ProcessedAsync(query, mystery);
        using var outer = await query.GetAsync($"/v1/events/{EventId(root)}");

        // 1,000 uncached × 0.0000025 + 200 cached × 0.00000125 + 80 × 0.00001.
        Assert.Equal("0.00355", (string)billed["processed"]!["cost_usd"]!);
        Assert.False((bool)unpriced["processed"]!["priced"]!);
        Assert.Null(unpriced["processed"]!["cost_usd"]);
        Assert.Equal(HttpStatusCode.NotFound, outer.StatusCode);
    }

    [Theory]
    [InlineData("json")]
    [InlineData("proto")]
    public async Task TheOpenTelemetryJsSdkExportsAreBilledPerModelCall(string encoding)
    {
        var key = await NewKeyAsync();
        var script = Path.Combine(TestAssets.Path("RepositoryRoot"), "tests", "otlp-js", "export-genai-spans.mjs");
        var start = new ProcessStartInfo("node", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["TOKAGE_OTLP_URL"] = new Uri(stack.Ingestion.HttpUri, "/v1/traces").ToString();
        start.Environment["TOKAGE_API_KEY"] = key;
        start.Environment["TOKAGE_OTLP_ENCODING"] = encoding;
        using var node = Process.Start(start)!;
        var output = await node.StandardOutput.ReadToEndAsync();
        var errors = await node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync();
        Assert.True(node.ExitCode == 0, $"node exited with {node.ExitCode}: {errors}");

        var ids = JsonNode.Parse(output)!;
        var traceId = (string)ids["traceId"]!;
        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        var gpt = await ProcessedAsync(query, traceId + (string)ids["calls"]![0]!, "the JS gpt-4o call");
        var claude = await ProcessedAsync(query, traceId + (string)ids["calls"]![1]!, "the JS claude call");
        using var agent = await query.GetAsync($"/v1/events/{traceId}{(string)ids["agent"]!}");

        // gpt-4o: 1,000 × 0.0000025 + 100 × 0.00001; claude-sonnet-4-5: 2,000 × 0.000003 + 50 × 0.000015.
        Assert.Equal(0.0035m, decimal.Parse((string)gpt["processed"]!["cost_usd"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0.00675m, decimal.Parse((string)claude["processed"]!["cost_usd"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(HttpStatusCode.NotFound, agent.StatusCode);
    }

    [Fact]
    public async Task OtlpJsonWithHexIdsIsReadAndARetriedExportIsADuplicate()
    {
        var key = await NewKeyAsync();
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var spanId = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64()));
        var end = DateTimeOffset.UtcNow.AddSeconds(-2).ToUnixTimeMilliseconds() * 1_000_000;
        var json = $$$"""
            {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"search"}}]},
              "scopeSpans":[{"scope":{"name":"manual"},"spans":[{"traceId":"{{{traceId}}}","spanId":"{{{spanId}}}","name":"chat gpt-4o",
                "kind":3,"startTimeUnixNano":"{{{end - 1_000_000_000}}}","endTimeUnixNano":"{{{end}}}",
                "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
                  {"key":"gen_ai.system","value":{"stringValue":"openai"}},
                  {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
                  {"key":"gen_ai.usage.input_tokens","value":{"intValue":"1000"}},
                  {"key":"gen_ai.usage.output_tokens","value":{"intValue":100}}]}]}]}]}
            """;
        using var ingest = ProcessingStack.ClientFor(stack.Ingestion, key);

        using var response = await ingest.PostAsync("/v1/traces", new StringContent(json, Encoding.UTF8, "application/json"));
        using var retried = await ingest.PostAsync("/v1/traces", new StringContent(json, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        JsonNode? status = null;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            using var r = await query.GetAsync($"/v1/events/{traceId}{spanId}");
            status = r.IsSuccessStatusCode ? JsonNode.Parse(await r.Content.ReadAsStringAsync()) : null;
            return status?["duplicates"]?.AsArray().Count == 1;
        }, Patience, "the span is stored once and its re-export recorded as a duplicate");
        Assert.Equal(0.0035m, decimal.Parse((string)status!["processed"]!["cost_usd"]!, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task BadExportsGetTheirOtlpAnswersAndOtherSignalsSucceed()
    {
        var key = await NewKeyAsync();
        using var ingest = ProcessingStack.ClientFor(stack.Ingestion, key);
        using var anonymous = new HttpClient { BaseAddress = stack.Ingestion.HttpUri };

        using var garbage = await ingest.PostAsync("/v1/traces", new ByteArrayContent([0xff, 0xff, 0xff]) { Headers = { ContentType = new("application/x-protobuf") } });
        using var badJson = await ingest.PostAsync("/v1/traces", new StringContent("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\"}]}]}]}", Encoding.UTF8, "application/json"));
        using var noKey = await anonymous.PostAsync("/v1/traces", new ByteArrayContent([]) { Headers = { ContentType = new("application/x-protobuf") } });
        using var metrics = await ingest.PostAsync("/v1/metrics", new ByteArrayContent([]) { Headers = { ContentType = new("application/x-protobuf") } });
        using var logs = await ingest.PostAsync("/v1/logs", new StringContent("{}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badJson.StatusCode);
        Assert.Contains("does not decode", await badJson.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal(HttpStatusCode.OK, logs.StatusCode);
    }

    private async Task<string> NewKeyAsync() =>
        (string)(await stack.Core.CreateTenantAsync("otlp-" + Guid.NewGuid().ToString("N")[..8]))["api_key"]!;

    private static string EventId(Activity activity) => activity.TraceId.ToHexString() + activity.SpanId.ToHexString();

    private static Task<JsonNode> ProcessedAsync(HttpClient query, Activity span) => ProcessedAsync(query, EventId(span), span.DisplayName);

    private static async Task<JsonNode> ProcessedAsync(HttpClient query, string eventId, string what)
    {
        JsonNode? status = null;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            using var response = await query.GetAsync($"/v1/events/{eventId}");
            status = response.IsSuccessStatusCode ? JsonNode.Parse(await response.Content.ReadAsStringAsync()) : null;
            return (string?)status?["status"] == "processed";
        }, Patience, $"{what} is processed");
        return status!;
    }
}
