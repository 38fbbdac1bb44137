using Tokage.Pricing;

namespace Tokage.Otlp.Tests;

/// <summary>Span shapes as each instrumentation family emits them, to the tokens, provider and model they bill.</summary>
public sealed class ConventionTests
{
    public sealed record Case(string SpanName, (string Key, object Value)[] Attributes, TokenCounts Expected, string Provider, string Model, bool IsModelCall);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["GenAI semconv: chat with cache reads, writes and reasoning"] = new("chat gpt-5",
        [
            ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"),
            ("gen_ai.request.model", "gpt-5"), ("gen_ai.response.model", "gpt-5-2025-08-07"),
            ("gen_ai.usage.input_tokens", 12_000), ("gen_ai.usage.output_tokens", 900),
            ("gen_ai.usage.cache_read.input_tokens", 8_000), ("gen_ai.usage.cache_creation.input_tokens", 1_000),
            ("gen_ai.usage.reasoning.output_tokens", 300),
        ], new(12_000, 8_000, 1_000, 0, 900, 300), "openai", "gpt-5-2025-08-07", true),

        ["GenAI semconv: cache writes under their current name, audio and image parts of each direction"] = new("chat gpt-4o-realtime-preview",
        [
            ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"), ("gen_ai.response.model", "gpt-4o-realtime-preview"),
            ("gen_ai.usage.input_tokens", 2_000), ("gen_ai.usage.output_tokens", 700),
            ("gen_ai.usage.cache_read.input_tokens", 500), ("gen_ai.usage.cache_write.input_tokens", 300),
            ("gen_ai.usage.audio.input_tokens", 900), ("gen_ai.usage.audio.cache_read.input_tokens", 200),
            ("gen_ai.usage.image.input_tokens", 400), ("gen_ai.usage.image.cache_read.input_tokens", 100),
            ("gen_ai.usage.video.input_tokens", 50), ("gen_ai.usage.text.input_tokens", 650),
            ("gen_ai.usage.audio.output_tokens", 600), ("gen_ai.usage.text.output_tokens", 100),
        ], new(2_000, 500, 300, 0, 700, 0, new(AudioInput: 900, ImageInput: 400, VideoInput: 50, AudioCacheRead: 200, ImageCacheRead: 100, AudioOutput: 600)),
            "openai", "gpt-4o-realtime-preview", true),

        ["OpenInference: audio prompt and completion details"] = new("ChatCompletion",
        [
            ("openinference.span.kind", "LLM"), ("llm.provider", "openai"), ("llm.model_name", "gpt-4o-audio-preview"),
            ("llm.token_count.prompt", 1_000), ("llm.token_count.completion", 300),
            ("llm.token_count.prompt_details.audio", 800), ("llm.token_count.completion_details.audio", 250),
        ], new(1_000, Output: 300, Modalities: new(AudioInput: 800, AudioOutput: 250)), "openai", "gpt-4o-audio-preview", true),

        ["GenAI semconv: request model only, aws.bedrock"] = new("chat",
        [
            ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "aws.bedrock"),
            ("gen_ai.request.model", "anthropic.claude-3-5-haiku-20241022-v1:0"),
            ("gen_ai.usage.input_tokens", 40), ("gen_ai.usage.output_tokens", 8),
        ], new(40, Output: 8), "aws.bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0", true),

        ["GenAI semconv, deprecated: gen_ai.system and prompt/completion tokens"] = new("text_completion gpt-3.5-turbo-instruct",
        [
            ("gen_ai.operation.name", "text_completion"), ("gen_ai.system", "openai"),
            ("gen_ai.request.model", "gpt-3.5-turbo-instruct"),
            ("gen_ai.usage.prompt_tokens", 100), ("gen_ai.usage.completion_tokens", 20),
        ], new(100, Output: 20), "openai", "gpt-3.5-turbo-instruct", true),

        ["GenAI semconv: embeddings"] = new("embeddings text-embedding-3-small",
        [
            ("gen_ai.operation.name", "embeddings"), ("gen_ai.provider.name", "openai"),
            ("gen_ai.request.model", "text-embedding-3-small"), ("gen_ai.usage.input_tokens", 64),
        ], new(64), "openai", "text-embedding-3-small", true),

        ["GenAI semconv: invoke_agent summing its children is not a model call"] = new("invoke_agent triage",
        [
            ("gen_ai.operation.name", "invoke_agent"), ("gen_ai.provider.name", "openai"), ("gen_ai.request.model", "gpt-4o"),
            ("gen_ai.usage.input_tokens", 3_000), ("gen_ai.usage.output_tokens", 200),
        ], new(3_000, Output: 200), "openai", "gpt-4o", false),

        ["OpenInference: LLM span with cache read and reasoning details"] = new("ChatCompletion",
        [
            ("openinference.span.kind", "LLM"), ("llm.provider", "openai"), ("llm.system", "openai"),
            ("llm.model_name", "gpt-4o-mini-2024-07-18"),
            ("llm.token_count.prompt", 500), ("llm.token_count.completion", 40), ("llm.token_count.total", 540),
            ("llm.token_count.prompt_details.cache_read", 200), ("llm.token_count.completion_details.reasoning", 10),
        ], new(500, 200, 0, 0, 40, 10), "openai", "gpt-4o-mini-2024-07-18", true),

        ["OpenInference: Anthropic with cache write, provider from llm.provider"] = new("Messages",
        [
            ("openinference.span.kind", "LLM"), ("llm.provider", "anthropic"), ("llm.model_name", "claude-sonnet-4-5"),
            ("llm.token_count.prompt", 3_000), ("llm.token_count.completion", 100),
            ("llm.token_count.prompt_details.cache_read", 1_000), ("llm.token_count.prompt_details.cache_write", 1_500),
        ], new(3_000, 1_000, 1_500, 0, 100, 0), "anthropic", "claude-sonnet-4-5", true),

        ["OpenInference: CHAIN span with usage is not a model call"] = new("RetrievalQA",
        [
            ("openinference.span.kind", "CHAIN"), ("llm.model_name", "gpt-4o"), ("llm.provider", "openai"),
            ("llm.token_count.prompt", 900), ("llm.token_count.completion", 50),
        ], new(900, Output: 50), "openai", "gpt-4o", false),

        ["Vercel AI SDK 6: ai.generateText.doGenerate (the provider call)"] = new("ai.generateText.doGenerate",
        [
            ("operation.name", "ai.generateText.doGenerate support-reply"), ("ai.operationId", "ai.generateText.doGenerate"),
            ("ai.model.provider", "anthropic.messages"), ("ai.model.id", "claude-sonnet-4-5"),
            ("gen_ai.system", "anthropic.messages"), ("gen_ai.request.model", "claude-sonnet-4-5"),
            ("gen_ai.response.model", "claude-sonnet-4-5-20250929"), ("ai.response.model", "claude-sonnet-4-5-20250929"),
            ("gen_ai.usage.input_tokens", 12_000), ("gen_ai.usage.output_tokens", 900),
            ("ai.usage.inputTokens", 12_000), ("ai.usage.outputTokens", 900), ("ai.usage.totalTokens", 12_900),
            ("ai.usage.inputTokenDetails.noCacheTokens", 3_000), ("ai.usage.inputTokenDetails.cacheReadTokens", 8_000),
            ("ai.usage.inputTokenDetails.cacheWriteTokens", 1_000),
            ("ai.usage.outputTokenDetails.textTokens", 600), ("ai.usage.outputTokenDetails.reasoningTokens", 300),
        ], new(12_000, 8_000, 1_000, 0, 900, 300), "anthropic.messages", "claude-sonnet-4-5-20250929", true),

        ["Vercel AI SDK 6: outer ai.generateText repeating two steps' summed usage"] = new("ai.generateText",
        [
            ("operation.name", "ai.generateText support-reply"), ("ai.operationId", "ai.generateText"),
            ("ai.model.provider", "anthropic.messages"), ("ai.model.id", "claude-sonnet-4-5"),
            ("ai.usage.inputTokens", 24_500), ("ai.usage.outputTokens", 1_300), ("ai.usage.totalTokens", 25_800),
            ("ai.usage.inputTokenDetails.cacheReadTokens", 16_000), ("ai.usage.inputTokenDetails.cacheWriteTokens", 1_000),
            ("ai.usage.outputTokenDetails.reasoningTokens", 300),
            ("ai.usage.cachedInputTokens", 16_000), ("ai.usage.reasoningTokens", 300),
        ], new(24_500, 16_000, 1_000, 0, 1_300, 300), "anthropic.messages", "claude-sonnet-4-5", false),

        ["Vercel AI SDK 5: ai.streamText.doStream with cachedInputTokens and reasoningTokens"] = new("ai.streamText.doStream",
        [
            ("ai.operationId", "ai.streamText.doStream"), ("ai.model.provider", "openai.responses"), ("ai.model.id", "o4-mini"),
            ("ai.usage.inputTokens", 2_000), ("ai.usage.outputTokens", 700),
            ("ai.usage.cachedInputTokens", 1_024), ("ai.usage.reasoningTokens", 512),
        ], new(2_000, 1_024, 0, 0, 700, 512), "openai.responses", "o4-mini", true),

        ["Vercel AI SDK 4: ai.usage.promptTokens/completionTokens"] = new("ai.generateText.doGenerate",
        [
            ("ai.model.provider", "openai.chat"), ("ai.model.id", "gpt-4o"),
            ("ai.usage.promptTokens", 350), ("ai.usage.completionTokens", 60),
        ], new(350, Output: 60), "openai.chat", "gpt-4o", true),

        ["OpenLLMetry Anthropic: cache-exclusive input beside the cache counts"] = new("anthropic.chat",
        [
            ("llm.request.type", "chat"), ("gen_ai.system", "Anthropic"),
            ("gen_ai.request.model", "claude-3-5-sonnet-latest"), ("gen_ai.response.model", "claude-3-5-sonnet-20241022"),
            ("gen_ai.usage.prompt_tokens", 200), ("gen_ai.usage.completion_tokens", 500),
            ("gen_ai.usage.cache_read_input_tokens", 8_000), ("gen_ai.usage.cache_creation_input_tokens", 1_000),
        ], new(9_200, 8_000, 1_000, 0, 500, 0), "Anthropic", "claude-3-5-sonnet-20241022", true),

        ["LiteLLM-style model name names the provider"] = new("litellm_request",
        [
            ("gen_ai.request.model", "openai/gpt-4o"),
            ("gen_ai.usage.input_tokens", 10), ("gen_ai.usage.output_tokens", 2),
        ], new(10, Output: 2), "openai", "openai/gpt-4o", false),

        ["Counts as text and as whole doubles (Python and JavaScript exporters)"] = new("chat",
        [
            ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"), ("gen_ai.response.model", "gpt-4o"),
            ("gen_ai.usage.input_tokens", "1200"), ("gen_ai.usage.output_tokens", 300.0),
            ("gen_ai.usage.cache_read.input_tokens", " 1024 "),
        ], new(1_200, 1_024, 0, 0, 300, 0), "openai", "gpt-4o", true),

        ["Reasoning above output: output reported without it (Gemini)"] = new("generate_content gemini-2.5-pro",
        [
            ("gen_ai.operation.name", "generate_content"), ("gen_ai.provider.name", "gcp.gemini"), ("gen_ai.response.model", "gemini-2.5-pro"),
            ("gen_ai.usage.input_tokens", 800), ("gen_ai.usage.output_tokens", 100), ("gen_ai.usage.reasoning.output_tokens", 250),
        ], new(800, 0, 0, 0, 350, 250), "gcp.gemini", "gemini-2.5-pro", true),

        ["A total above input + output with no reasoning count: the gap is reasoning (Vertex without thoughts)"] = new("generate_content gemini-2.5-flash",
        [
            ("gen_ai.operation.name", "generate_content"), ("gen_ai.system", "vertex_ai"), ("gen_ai.response.model", "gemini-2.5-flash"),
            ("gen_ai.usage.input_tokens", 1_000), ("gen_ai.usage.output_tokens", 200), ("gen_ai.usage.total_tokens", 1_650),
        ], new(1_000, 0, 0, 0, 650, 450), "vertex_ai", "gemini-2.5-flash", true),

        ["A total equal to input + output changes nothing"] = new("chat",
        [
            ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"), ("gen_ai.response.model", "gpt-4o"),
            ("gen_ai.usage.input_tokens", 70), ("llm.usage.total_tokens", 75), ("gen_ai.usage.output_tokens", 5),
        ], new(70, Output: 5), "openai", "gpt-4o", true),

        ["Counts as integral doubles and as strings, in every usage attribute"] = new("chat",
        [
            ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "anthropic"), ("gen_ai.response.model", "claude-sonnet-4-5"),
            ("gen_ai.usage.input_tokens", "190"), ("gen_ai.usage.output_tokens", 25.0), ("gen_ai.usage.cache_read.input_tokens", 100.0),
            ("gen_ai.usage.cache_creation.input_tokens", "40"), ("gen_ai.usage.cache_creation.ephemeral_1h_input_tokens", "20"),
        ], new(190, 100, 40, 20, 25, 0), "anthropic", "claude-sonnet-4-5", true),
    };

    public static TheoryData<string> Conventions => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Conventions))]
    public void EachConventionMapsToItsTokensProviderAndModel(string convention)
    {
        var expected = Cases[convention];
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span(expected.SpanName, expected.Attributes)));

        Assert.Empty(result.Rejected);
        var mapped = Assert.Single(result.Usage);
        var usage = mapped.Event.Usage;
        Assert.Equal(expected.Expected, new TokenCounts(usage.InputTokens, usage.CacheReadTokens, usage.CacheWriteTokens,
            usage.CacheWrite1HTokens, usage.OutputTokens, usage.ReasoningTokens,
            new ModalityCounts(usage.AudioInputTokens, usage.ImageInputTokens, usage.VideoInputTokens, usage.AudioCacheReadTokens,
                usage.ImageCacheReadTokens, usage.AudioCacheWriteTokens, usage.AudioOutputTokens, usage.ImageOutputTokens)));
        Assert.Equal(expected.Provider, mapped.Event.Provider);
        Assert.Equal(expected.Model, mapped.Event.Model);
        Assert.Equal(expected.IsModelCall, mapped.IsModelCall);

        // What the native validation demands of any event.
        Assert.InRange(mapped.Event.EventId.Length, 1, 128);
        Assert.NotNull(mapped.Event.Timestamp);
        Assert.True(usage.CacheReadTokens + usage.CacheWriteTokens + usage.CacheWrite1HTokens <= usage.InputTokens);
        Assert.True(usage.ReasoningTokens <= usage.OutputTokens);
    }

    /// <summary>Modality counts that do not fit the totals are left out (the span is priced as text, never refused) and noted.</summary>
    [Fact]
    public void ModalityCountsThatDoNotFitAreLeftOutAndNoted()
    {
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span("chat", [
            ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"), ("gen_ai.response.model", "gpt-4o-audio-preview"),
            ("gen_ai.usage.input_tokens", 100), ("gen_ai.usage.output_tokens", 10), ("gen_ai.usage.audio.output_tokens", 11),
        ])));

        var mapped = Assert.Single(result.Usage);
        Assert.Equal((100L, 10L, 0L), (mapped.Event.Usage.InputTokens, mapped.Event.Usage.OutputTokens, mapped.Event.Usage.AudioOutputTokens));
        Assert.Contains(SpanNotes.ModalitiesDropped, mapped.Notes);
    }
}
