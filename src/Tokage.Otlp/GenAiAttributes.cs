namespace Tokage.Otlp;

/// <summary>
/// The attribute names each instrumentation family uses, in the order they are read: the current OpenTelemetry
/// GenAI conventions first, then their deprecated names, OpenLLMetry, OpenInference and the Vercel AI SDK.
/// </summary>
internal static class GenAiAttributes
{
    public static readonly string[] InputTokens =
    [
        "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt",
        "ai.usage.inputTokens", "ai.usage.promptTokens",
    ];

    public static readonly string[] OutputTokens =
    [
        "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion",
        "ai.usage.outputTokens", "ai.usage.completionTokens",
    ];

    public static readonly string[] CacheReadTokens =
    [
        "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens", "llm.token_count.prompt_details.cache_read",
        "ai.usage.inputTokenDetails.cacheReadTokens", "ai.usage.cachedInputTokens",
    ];

    public static readonly string[] CacheWriteTokens =
    [
        // The current name, then the one it replaced.
        "gen_ai.usage.cache_write.input_tokens", "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write",
        "ai.usage.inputTokenDetails.cacheWriteTokens",
    ];

    /// <summary>1-hour cache writes, where an instrumentation reports them apart (Anthropic's <c>cache_creation.ephemeral_1h_input_tokens</c>).</summary>
    public static readonly string[] CacheWrite1hTokens =
    [
        "gen_ai.usage.cache_creation.ephemeral_1h_input_tokens", "gen_ai.usage.cache_write_1h.input_tokens",
    ];

    // Per-modality parts, each inside its total: the GenAI conventions (semantic-conventions-genai), then OpenInference's
    // prompt and completion details where it has them (audio only).
    public static readonly string[] AudioInputTokens = ["gen_ai.usage.audio.input_tokens", "llm.token_count.prompt_details.audio"];
    public static readonly string[] ImageInputTokens = ["gen_ai.usage.image.input_tokens"];
    public static readonly string[] VideoInputTokens = ["gen_ai.usage.video.input_tokens"];
    public static readonly string[] AudioCacheReadTokens = ["gen_ai.usage.audio.cache_read.input_tokens"];
    public static readonly string[] ImageCacheReadTokens = ["gen_ai.usage.image.cache_read.input_tokens"];
    public static readonly string[] AudioOutputTokens = ["gen_ai.usage.audio.output_tokens", "llm.token_count.completion_details.audio"];
    public static readonly string[] ImageOutputTokens = ["gen_ai.usage.image.output_tokens"];

    /// <summary>Totals: never usage alone (no split), but a total above input + output reveals omitted reasoning.</summary>
    public static readonly string[] TotalTokens =
    [
        "gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total", "ai.usage.totalTokens",
    ];

    /// <summary>Costs instrumentations compute themselves: ignored (Tokage prices every event) and noted.</summary>
    public static readonly string[] ReportedCost =
    [
        "gen_ai.usage.cost", "gen_ai.usage.total_cost", "llm.cost.total", "llm.cost.prompt", "llm.cost.completion",
        "langfuse.observation.cost_details", "ai.usage.cost", "operation.cost",
    ];

    public static readonly string[] ReasoningTokens =
    [
        "gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning",
        "ai.usage.outputTokenDetails.reasoningTokens", "ai.usage.reasoningTokens",
        // OpenLIT and OpenLLMetry (OpenAI), pydantic-ai's details (OpenAI reasoning, Anthropic thinking): inside the output count.
        "gen_ai.usage.reasoning_tokens", "llm.usage.reasoning_tokens", "gen_ai.usage.details.reasoning_tokens", "gen_ai.usage.details.thinking_tokens",
    ];

    // The model that answered before the one asked for.
    public static readonly string[] Model =
    [
        "gen_ai.response.model", "ai.response.model", "llm.model_name", "gen_ai.request.model", "ai.model.id",
    ];

    public static readonly string[] Provider = ["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"];

    public const string VercelModelProvider = "ai.model.provider";

    // The tier that was applied (OpenAI's response) before the one asked for.
    public static readonly string[] ServiceTier =
    [
        "gen_ai.openai.response.service_tier", "gen_ai.openai.request.service_tier", "gen_ai.request.service_tier",
    ];

    public const string OperationName = "gen_ai.operation.name";
    public const string OpenInferenceSpanKind = "openinference.span.kind";
    public const string OpenLlmetryRequestType = "llm.request.type";
    public const string VercelOperationId = "ai.operationId";

    public static readonly string[] Application = ["tokage.application"];
    public const string ServiceName = "service.name";
    public static readonly string[] Project = ["tokage.project"];
    public static readonly string[] User = ["user.id", "enduser.id"];
    public static readonly string[] Team = ["tokage.team"];
    public static readonly string[] Customer = ["tokage.customer"];
    public static readonly string[] ReservationId = ["tokage.reservation_id"];

    /// <summary>The synthetic monitor's probes (on the span or its resource): stored as metadata, so they classify as OPS.</summary>
    public static readonly string[] Synthetic = ["tokage.synthetic"];

    // Units no convention names yet, in Tokage's own namespace: input images, seconds of audio, web searches.
    public static readonly string[] Images = ["tokage.usage.images"];
    public const string AudioSeconds = "tokage.usage.audio_seconds";
    public static readonly string[] WebSearchQueries = ["tokage.usage.web_search_queries"];
    public static readonly string[] Environment = ["deployment.environment.name", "deployment.environment"];

    /// <summary>GenAI operations that are one call to a model (as opposed to invoke_agent, execute_tool, …).</summary>
    public static readonly HashSet<string> ModelCallOperations = new(StringComparer.OrdinalIgnoreCase)
    {
        "chat", "text_completion", "completion", "generate_content", "embeddings", "embedding", "responses", "response",
    };

    /// <summary>OpenInference span kinds that are a model call.</summary>
    public static readonly HashSet<string> ModelCallSpanKinds = new(StringComparer.OrdinalIgnoreCase) { "LLM", "EMBEDDING" };

    /// <summary>OpenLLMetry's <c>llm.request.type</c> values that are a model call.</summary>
    public static readonly HashSet<string> ModelCallRequestTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "chat", "completion", "embedding", "rerank",
    };

    /// <summary>Vercel AI SDK's provider-call spans: <c>ai.generateText.doGenerate</c>, <c>ai.streamText.doStream</c>, <c>ai.embed.doEmbed</c>, ….</summary>
    public static readonly string[] VercelModelCallSuffixes = [".doGenerate", ".doStream", ".doEmbed"];
}
