using Tokage.Pricing;

namespace Tokage.Otlp.Tests;

/// <summary>
/// Spans as frameworks with usage attributes of their own emit them. Each fixture is written from the framework's own
/// source (named beside it) and asserts the tokens, model and provider billed, or that the span is not usage.
/// </summary>
public sealed class FrameworkTests
{
    public sealed record Fixture(string Source, string SpanName, (string Key, object Value)[] Attributes, TokenCounts? Expected, string Model = "", string Provider = "");

    private static readonly Dictionary<string, Fixture> Fixtures = new()
    {
        // google/adk-python ≤ 1.4 (src/google/adk/telemetry.py trace_call_llm): usage only in the LlmResponse JSON, snake_case;
        // prompt_token_count includes the cached part, candidates_token_count leaves thinking out.
        ["Google ADK 1.4: call_llm with usage_metadata in gcp.vertex.agent.llm_response"] = new(
            "google/adk-python src/google/adk/telemetry.py (v1.4.2), LlmResponse.model_dump_json(exclude_none=True)", "call_llm",
            [
                ("gen_ai.system", "gcp.vertex.agent"), ("gen_ai.request.model", "gemini-2.5-flash"),
                ("gcp.vertex.agent.invocation_id", "e-1b2c"), ("gcp.vertex.agent.event_id", "ev-9"),
                ("gcp.vertex.agent.llm_request", """{"model":"gemini-2.5-flash","config":{},"contents":[]}"""),
                ("gcp.vertex.agent.llm_response", """{"model_version":"gemini-2.5-flash","content":{"parts":[{"text":"Sunny."}],"role":"model"},"finish_reason":"STOP","usage_metadata":{"cached_content_token_count":100,"candidates_token_count":16,"prompt_token_count":136,"prompt_tokens_details":[{"modality":"TEXT","token_count":136}],"thoughts_token_count":76,"total_token_count":228}}"""),
            ],
            new(136, 100, 0, 0, 92, 76), "gemini-2.5-flash", "gcp.vertex.agent"),

        // google/adk-python 1.5–2.2 (src/google/adk/telemetry/tracing.py): gen_ai.usage.* with thinking apart, in
        // gen_ai.usage.experimental.reasoning_tokens, and not in the output count (the openinference ADK test: 136 + 16 + 76 = 228).
        ["Google ADK 1.x: gen_ai.usage.* and experimental reasoning beside an output without it"] = new(
            "google/adk-python src/google/adk/telemetry/tracing.py; Arize-ai/openinference google-adk instrumentor tests", "call_llm",
            [
                ("gen_ai.system", "gcp.vertex.agent"), ("gen_ai.request.model", "gemini-2.5-flash"),
                ("gen_ai.usage.input_tokens", 136), ("gen_ai.usage.output_tokens", 16), ("gen_ai.usage.experimental.reasoning_tokens", 76),
                ("gcp.vertex.agent.llm_response", """{"usage_metadata":{"candidates_token_count":16,"prompt_token_count":136,"thoughts_token_count":76,"total_token_count":228}}"""),
            ],
            new(136, 0, 0, 0, 92, 76), "gemini-2.5-flash", "gcp.vertex.agent"),

        ["Google ADK: a tool span's empty response is not usage"] = new(
            "google/adk-python trace_tool_call sets gcp.vertex.agent.llm_response to '{}'", "execute_tool get_weather",
            [("gen_ai.operation.name", "execute_tool"), ("gcp.vertex.agent.llm_response", "{}")], null),

        // firebase/genkit js/core/src/action.ts + js/ai/src/model-types.ts (GenerationUsageSchema, camelCase); the Gemini
        // plugin (js/plugins/google-genai/src/googleai/gemini.ts) maps candidatesTokenCount → outputTokens (thinking apart).
        ["Genkit: a model action's genkit:output usage, thinking apart"] = new(
            "firebase/genkit js/core/src/action.ts, js/ai/src/model-types.ts, go/plugins/googlecloud/generate_test.go", "googleai/gemini-2.5-flash",
            [
                ("genkit:type", "action"), ("genkit:metadata:subtype", "model"), ("genkit:name", "googleai/gemini-2.5-flash"),
                ("genkit:path", "/{chatFlow,t:flow}/{generate,t:util}/{googleai/gemini-2.5-flash,t:action,s:model}"), ("genkit:state", "success"),
                ("genkit:input", """{"messages":[{"role":"user","content":[{"text":"What is the capital of France?"}]}]}"""),
                ("genkit:output", """{"message":{"role":"model","content":[{"text":"Paris."}]},"finishReason":"stop","usage":{"inputCharacters":30,"inputTokens":8,"outputTokens":2,"thoughtsTokens":40,"cachedContentTokens":4,"totalTokens":50},"latencyMs":245.6}"""),
            ],
            new(8, 4, 0, 0, 42, 40), "googleai/gemini-2.5-flash", "googleai"),

        ["Genkit (Python): counts as floats"] = new(
            "firebase/genkit py/packages/genkit (GenkitModel dumps by alias; numbers as floats)", "vertexai/gemini-2.5-pro",
            [
                ("genkit:type", "action"), ("genkit:metadata:subtype", "model"), ("genkit:name", "vertexai/gemini-2.5-pro"),
                ("genkit:output", """{"usage":{"inputTokens":12.0,"outputTokens":3.0,"totalTokens":15.0}}"""),
            ],
            new(12, Output: 3), "vertexai/gemini-2.5-pro", "vertexai"),

        ["Genkit: the generate util span repeats the last model call's usage and is never read"] = new(
            "firebase/genkit js/ai/src/generate/action.ts (genkit:type util)", "generate",
            [
                ("genkit:type", "util"), ("genkit:name", "generate"),
                ("genkit:output", """{"usage":{"inputTokens":8,"outputTokens":2,"totalTokens":10}}"""),
            ], null),

        // Langfuse SDKs: usage_details JSON. Its OpenAI and LangChain integrations take the cached and reasoning parts out
        // of input and output into input_* / output_* keys; its Python OpenAI integration sends OpenAI's raw usage.
        ["Langfuse: a generation's usage_details with cache and reasoning taken out into their own keys"] = new(
            "langfuse/langfuse-python langfuse/_client/attributes.py; langfuse/langchain/CallbackHandler.py _parse_usage_model", "claude-call",
            [
                ("langfuse.observation.type", "generation"), ("langfuse.observation.model.name", "claude-sonnet-4-5"),
                ("langfuse.observation.usage_details", """{"input":120,"input_cache_read":3000,"input_cache_creation":500,"output":410,"output_reasoning":90,"total":4120}"""),
                ("langfuse.observation.cost_details", """{"total":0.0123}"""), ("langfuse.environment", "default"),
            ],
            new(3_620, 3_000, 500, 0, 500, 90), "claude-sonnet-4-5"),

        ["Langfuse: OpenAI's raw usage as the Python OpenAI integration sends it"] = new(
            "langfuse/langfuse-python langfuse/openai.py _parse_usage", "OpenAI-generation",
            [
                ("langfuse.observation.type", "generation"), ("langfuse.observation.model.name", "gpt-4o-2024-08-06"),
                ("langfuse.observation.usage_details", """{"prompt_tokens":2000,"completion_tokens":300,"total_tokens":2300,"prompt_tokens_details":{"cached_tokens":1024},"completion_tokens_details":{"reasoning_tokens":0}}"""),
            ],
            new(2_000, 1_024, 0, 0, 300, 0), "gpt-4o-2024-08-06"),

        ["Langfuse: a span-type observation is a wrapper, not usage"] = new(
            "langfuse/langfuse-js packages/tracing/src/types.ts (observation types)", "agent",
            [("langfuse.observation.type", "agent"), ("langfuse.observation.usage_details", """{"input":120,"output":410}""")], null),

        // pydantic/pydantic-ai usage.py opentelemetry_attributes: input includes the cache; details.* repeat or split
        // first-class counts and are not added; operation.cost is its own price, ignored.
        ["pydantic-ai: a model request with cache counts, details and its own cost"] = new(
            "pydantic/pydantic-ai pydantic_ai_slim/pydantic_ai/usage.py, _instrumentation.py", "chat claude-sonnet-4-5",
            [
                ("gen_ai.operation.name", "chat"), ("gen_ai.system", "anthropic"), ("gen_ai.provider.name", "anthropic"),
                ("gen_ai.request.model", "claude-sonnet-4-5"), ("gen_ai.response.model", "claude-sonnet-4-5-20250929"),
                ("gen_ai.usage.input_tokens", 3_620), ("gen_ai.usage.output_tokens", 410),
                ("gen_ai.usage.cache_read.input_tokens", 3_000), ("gen_ai.usage.cache_creation.input_tokens", 500),
                ("gen_ai.usage.details.cache_read_tokens", 3_000), ("gen_ai.usage.details.cache_write_tokens", 500), ("operation.cost", 0.0123),
            ],
            new(3_620, 3_000, 500, 0, 410, 0), "claude-sonnet-4-5-20250929", "anthropic"),

        // openlit/openlit sdk/python/src/openlit/instrumentation/anthropic/utils.py: Anthropic's input, cache left out.
        ["OpenLIT: Anthropic input without its cache, even when the cache is the smaller part"] = new(
            "openlit/openlit sdk/python/src/openlit/instrumentation/anthropic/utils.py, semcov/__init__.py", "chat claude-sonnet-4-5",
            [
                ("telemetry.sdk.name", "openlit"), ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "anthropic"),
                ("gen_ai.request.model", "claude-sonnet-4-5"), ("gen_ai.usage.input_tokens", 5_000), ("gen_ai.usage.output_tokens", 410),
                ("gen_ai.usage.cache_read.input_tokens", 1_000), ("gen_ai.usage.cache_creation.input_tokens", 0),
                ("gen_ai.client.token.usage", 5_410), ("gen_ai.usage.cost", 0.021),
            ],
            new(6_000, 1_000, 0, 0, 410, 0), "claude-sonnet-4-5", "anthropic"),

        ["OpenLIT: OpenAI with reasoning_tokens inside the output"] = new(
            "openlit/openlit sdk/python/src/openlit/instrumentation/openai/utils.py", "chat o4-mini",
            [
                ("telemetry.sdk.name", "openlit"), ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"),
                ("gen_ai.response.model", "o4-mini"), ("gen_ai.usage.input_tokens", 900), ("gen_ai.usage.output_tokens", 700),
                ("gen_ai.usage.reasoning_tokens", 512), ("gen_ai.usage.cache_read.input_tokens", 0),
            ],
            new(900, 0, 0, 0, 700, 512), "o4-mini", "openai"),

        // traceloop/openllmetry packages/opentelemetry-instrumentation-anthropic: input includes the cache; total beside it.
        ["OpenLLMetry: Anthropic with the cache inside the input and a total"] = new(
            "traceloop/openllmetry packages/opentelemetry-instrumentation-anthropic/.../__init__.py, tests/test_prompt_caching.py", "anthropic.chat",
            [
                ("gen_ai.provider.name", "anthropic"), ("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "claude-sonnet-4-5"),
                ("gen_ai.response.model", "claude-sonnet-4-5-20250929"), ("gen_ai.usage.input_tokens", 3_620), ("gen_ai.usage.output_tokens", 410),
                ("gen_ai.usage.total_tokens", 4_030), ("gen_ai.usage.cache_read.input_tokens", 3_000), ("gen_ai.usage.cache_creation.input_tokens", 500),
            ],
            new(3_620, 3_000, 500, 0, 410, 0), "claude-sonnet-4-5-20250929", "anthropic"),

        // vercel/ai: AI SDK 5 passes Anthropic's input (cache left out) and puts Anthropic's raw usage, with the 1-hour
        // writes apart, in ai.response.providerMetadata (packages/anthropic/src/anthropic-messages-language-model.ts).
        ["Vercel AI SDK 5, Anthropic: cache and 1-hour writes from the provider metadata, input made inclusive"] = new(
            "vercel/ai packages/ai/src/generate-text/generate-text.ts (ai@5.0), packages/anthropic/src/anthropic-messages-language-model.ts", "ai.generateText.doGenerate",
            [
                ("ai.operationId", "ai.generateText.doGenerate"), ("ai.model.provider", "anthropic.messages"), ("ai.model.id", "claude-sonnet-4-5"),
                ("gen_ai.system", "anthropic.messages"), ("gen_ai.request.model", "claude-sonnet-4-5"), ("gen_ai.response.model", "claude-sonnet-4-5-20250929"),
                ("ai.usage.promptTokens", 12), ("ai.usage.completionTokens", 300), ("gen_ai.usage.input_tokens", 12), ("gen_ai.usage.output_tokens", 300),
                ("ai.response.providerMetadata", """{"anthropic":{"usage":{"input_tokens":12,"cache_creation_input_tokens":1500,"cache_read_input_tokens":8000,"cache_creation":{"ephemeral_5m_input_tokens":1000,"ephemeral_1h_input_tokens":500},"output_tokens":300,"service_tier":"standard"},"cacheCreationInputTokens":1500}}"""),
            ],
            new(9_512, 8_000, 1_000, 500, 300, 0), "claude-sonnet-4-5-20250929", "anthropic.messages"),

        ["Vercel AI SDK 6, Anthropic: inclusive input split by the SDK, the 1-hour writes from the metadata"] = new(
            "vercel/ai packages/ai/src/generate-text/generate-text.ts (ai@6.0), packages/anthropic/src/convert-anthropic-messages-usage.ts", "ai.generateText.doGenerate",
            [
                ("ai.operationId", "ai.generateText.doGenerate"), ("ai.model.provider", "anthropic.messages"), ("gen_ai.system", "anthropic.messages"),
                ("gen_ai.response.model", "claude-sonnet-4-5-20250929"), ("ai.usage.inputTokens", 9_512), ("ai.usage.outputTokens", 300),
                ("ai.usage.inputTokenDetails.noCacheTokens", 12), ("ai.usage.inputTokenDetails.cacheReadTokens", 8_000), ("ai.usage.inputTokenDetails.cacheWriteTokens", 1_500),
                ("gen_ai.usage.input_tokens", 9_512), ("gen_ai.usage.output_tokens", 300),
                ("ai.response.providerMetadata", """{"anthropic":{"usage":{"input_tokens":12,"cache_creation_input_tokens":1500,"cache_read_input_tokens":8000,"cache_creation":{"ephemeral_5m_input_tokens":1000,"ephemeral_1h_input_tokens":500},"output_tokens":300},"cacheCreationInputTokens":1500,"stopSequence":null}}"""),
            ],
            new(9_512, 8_000, 1_000, 500, 300, 0), "claude-sonnet-4-5-20250929", "anthropic.messages"),

        // vercel/ai packages/amazon-bedrock/src/bedrock-chat-language-model.ts: Bedrock's inputTokens leave the cache out;
        // the metadata carries the cache writes (AI SDK 5 passes the input through).
        ["Vercel AI SDK 5, Bedrock: cache writes from the provider metadata, added to the input"] = new(
            "vercel/ai packages/amazon-bedrock/src/bedrock-chat-language-model.ts (@ai-sdk/amazon-bedrock 3.x) and its tests", "ai.generateText.doGenerate",
            [
                ("ai.operationId", "ai.generateText.doGenerate"), ("ai.model.provider", "amazon-bedrock"), ("gen_ai.system", "amazon-bedrock"),
                ("gen_ai.request.model", "us.anthropic.claude-sonnet-4-20250514-v1:0"), ("ai.usage.promptTokens", 4), ("ai.usage.completionTokens", 34),
                ("ai.response.providerMetadata", """{"bedrock":{"stopSequence":null,"usage":{"cacheWriteInputTokens":3}}}"""),
            ],
            new(7, 0, 3, 0, 34, 0), "us.anthropic.claude-sonnet-4-20250514-v1:0", "amazon-bedrock"),

        // Arize-ai/openinference: token counts and, from a few instrumentations, costs of their own (llm.cost.*).
        ["OpenInference: an LLM span with its own cost"] = new(
            "Arize-ai/openinference python/openinference-semantic-conventions/src/openinference/semconv/trace/__init__.py", "ChatOpenAI",
            [
                ("openinference.span.kind", "LLM"), ("llm.provider", "openai"), ("llm.model_name", "gpt-4o"),
                ("llm.token_count.prompt", 500), ("llm.token_count.completion", 40), ("llm.token_count.total", 540), ("llm.cost.total", 0.00165),
            ],
            new(500, Output: 40), "gpt-4o", "openai"),

        // pydantic/pydantic-ai: the agent run span sums its model requests in gen_ai.aggregated_usage.*, a summary.
        ["pydantic-ai: the agent run's aggregated usage is a summary, never billed"] = new(
            "pydantic/pydantic-ai pydantic_ai_slim/pydantic_ai/_agent_graph.py (agent run span)", "agent run",
            [("gen_ai.agent.name", "support"), ("gen_ai.aggregated_usage.input_tokens", 900), ("gen_ai.aggregated_usage.output_tokens", 80)], null),
    };

    public static TheoryData<string> Names => new(Fixtures.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void EachFrameworksSpanBillsItsOwnTokensOrNothing(string name)
    {
        var fixture = Fixtures[name];
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span(fixture.SpanName, fixture.Attributes)));

        Assert.Empty(result.Rejected);
        if (fixture.Expected is null)
        {
            Assert.Empty(result.Usage);
            return;
        }

        var mapped = Assert.Single(result.Usage);
        var usage = mapped.Event.Usage;
        Assert.Equal(fixture.Expected, new TokenCounts(usage.InputTokens, usage.CacheReadTokens, usage.CacheWriteTokens, usage.CacheWrite1HTokens, usage.OutputTokens, usage.ReasoningTokens));
        Assert.Equal((fixture.Model, fixture.Provider), (mapped.Event.Model, mapped.Event.Provider));
        var reportedCost = fixture.Attributes.Any(a => a.Key is "gen_ai.usage.cost" or "operation.cost" or "llm.cost.total" or "langfuse.observation.cost_details");
        Assert.Equal(reportedCost, mapped.Notes.Contains(SpanNotes.ReportedCostIgnored));
    }

    [Fact]
    public void APayloadThatIsNotJsonRejectsTheSpanSayingWhy()
    {
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span("call_llm", [("gcp.vertex.agent.llm_response", "{usage_metadata: 12")])));

        var rejected = Assert.Single(result.Rejected);
        Assert.Equal("unreadable_payload", rejected.Code);
        Assert.Contains("gcp.vertex.agent.llm_response", rejected.Reason);
    }

    [Fact]
    public void ANegativeCountInsideAPayloadRejectsTheSpan()
    {
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span("googleai/gemini-2.5-flash",
            [("genkit:type", "action"), ("genkit:metadata:subtype", "model"), ("genkit:output", """{"usage":{"inputTokens":-8,"outputTokens":2}}""")])));

        Assert.Equal("negative_count", Assert.Single(result.Rejected).Code);
    }
}
