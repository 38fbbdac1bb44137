using System.Globalization;
using System.Text.Json;

namespace Tokage.Otlp;

/// <summary>
/// Usage that frameworks put in attributes of their own, read when a span carries none of the conventions' counts
/// (<see cref="Read"/>), or beside them where the conventions are silent (<see cref="Enrich"/>). Each shape is taken
/// from the framework's own source; the fixtures in tests/Tokage.Otlp.Tests/FrameworkTests.cs name it.
/// </summary>
internal static class FrameworkUsage
{
    // Google ADK (google/adk-python, telemetry trace_call_llm): the "call_llm" span's LlmResponse as JSON, snake_case.
    public const string AdkLlmResponse = "gcp.vertex.agent.llm_response";

    // ADK 1.x: thinking tokens beside an output count that leaves them out (2.3+ counts them in the output).
    public const string AdkExperimentalReasoning = "gen_ai.usage.experimental.reasoning_tokens";

    // Firebase Genkit (firebase/genkit, js/core action tracing): a model action's GenerateResponseData as JSON.
    public const string GenkitType = "genkit:type";
    public const string GenkitSubtype = "genkit:metadata:subtype";
    public const string GenkitName = "genkit:name";
    public const string GenkitOutput = "genkit:output";

    // Langfuse SDKs (langfuse/langfuse-python langfuse/_client/attributes.py, langfuse/langfuse-js packages/core/src/constants.ts).
    public const string LangfuseType = "langfuse.observation.type";
    public const string LangfuseModel = "langfuse.observation.model.name";
    public const string LangfuseUsage = "langfuse.observation.usage_details";

    // The Vercel AI SDK (vercel/ai packages/ai/src/generate-text): the provider's own usage, as JSON, on doGenerate/doStream spans.
    public const string VercelProviderMetadata = "ai.response.providerMetadata";

    // AI SDK 6 splits the input it counts cache-inclusive; 5 passes the provider's input through (Anthropic's and Bedrock's leave the cache out).
    private const string VercelV6InputSplit = "ai.usage.inputTokenDetails.noCacheTokens";

    /// <summary>A span that carries none of the conventions' counts: its framework's own, or null.</summary>
    public static UsageReport? Read(SpanAttributes attributes) =>
        Genkit(attributes) ?? Adk(attributes) ?? Langfuse(attributes);

    /// <summary>The conventions' counts, with what the framework's own attributes add where the conventions are silent.</summary>
    public static UsageReport Enrich(UsageReport report, SpanAttributes attributes)
    {
        // ADK 1.x reports thinking apart from an output that leaves it out: the output is both.
        if (report.Reasoning is null && attributes.Count(AdkExperimentalReasoning) is { Value: { } thoughts })
        {
            report = report with { Reasoning = thoughts, Output = (report.Output ?? 0) + thoughts };
        }

        if (attributes.Raw(VercelProviderMetadata) is { } metadata)
        {
            report = Vercel(report, attributes, metadata);
        }

        // OpenLIT's Anthropic instrumentation reports Anthropic's input, which leaves the cache out (sdk/python/src/openlit/
        // instrumentation/anthropic/utils.py): add it back even when it is smaller than the uncached part.
        if (attributes.OnSpanOrResource("telemetry.sdk.name") == "openlit" && attributes.OnSpan(GenAiAttributes.Provider) is "anthropic"
            && report.Input is { } input && (report.CacheRead ?? 0) + (report.CacheWrite ?? 0) is > 0 and var cached && cached <= input)
        {
            report = report with { Input = input + cached };
        }

        return report;
    }

    /// <summary>
    /// The Vercel AI SDK's provider metadata fills what its usage attributes leave out. Anthropic's raw usage carries
    /// the cache reads and writes, the writes split by lifetime (<c>cache_creation.ephemeral_1h_input_tokens</c>); Bedrock's
    /// carries the cache writes. With AI SDK 5 the input is the provider's, cache-exclusive: the cache is added back.
    /// </summary>
    private static UsageReport Vercel(UsageReport report, SpanAttributes attributes, string metadata)
    {
        var v6 = attributes.HasAny(VercelV6InputSplit);
        try
        {
            using var document = JsonDocument.Parse(metadata);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return report;
            }

            if (root.TryGetProperty("anthropic", out var anthropic) && anthropic.ValueKind == JsonValueKind.Object
                && anthropic.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                var (raw, read, created) = (Count(usage, "input_tokens").Value, Count(usage, "cache_read_input_tokens").Value ?? 0, Count(usage, "cache_creation_input_tokens").Value ?? 0);
                var oneHour = usage.TryGetProperty("cache_creation", out var split) && split.ValueKind == JsonValueKind.Object
                    ? Count(split, "ephemeral_1h_input_tokens").Value ?? 0 : 0;
                var exclusive = !v6 && raw is not null && report.Input == raw;
                return report with
                {
                    Input = exclusive ? raw + read + created : report.Input,
                    CacheRead = report.CacheRead ?? read,
                    CacheWrite = Math.Max(0, (report.CacheWrite ?? created) - oneHour),
                    CacheWrite1h = report.CacheWrite1h ?? oneHour,
                };
            }

            if (root.TryGetProperty("bedrock", out var bedrock) && bedrock.ValueKind == JsonValueKind.Object
                && bedrock.TryGetProperty("usage", out var bedrockUsage) && bedrockUsage.ValueKind == JsonValueKind.Object
                && report.CacheWrite is null && Count(bedrockUsage, "cacheWriteInputTokens").Value is { } written)
            {
                // Bedrock's inputTokens leave the cache out; AI SDK 6 adds it to the input it reports, 5 does not.
                return report with { CacheWrite = written, Input = v6 ? report.Input : (report.Input ?? 0) + written + (report.CacheRead ?? 0) };
            }
        }
        catch (JsonException)
        {
            // Metadata that is not JSON adds nothing; the usage attributes stand.
        }

        return report;
    }

    /// <summary>
    /// Langfuse generations and embeddings: <c>usage_details</c> as JSON, either Langfuse's own keys (<c>input</c> and
    /// <c>output</c> with the cached and reasoning parts taken out into <c>input_*</c> and <c>output_*</c> keys, as its
    /// OpenAI and LangChain integrations send them) or OpenAI's raw usage (<c>prompt_tokens</c>, …, nested details).
    /// </summary>
    private static UsageReport? Langfuse(SpanAttributes attributes)
    {
        if (attributes.Raw(LangfuseType) is not ("generation" or "embedding") || attributes.Raw(LangfuseUsage) is not { } details)
        {
            return null;
        }

        return FromJson(LangfuseUsage, details, usage =>
        {
            var model = attributes.Raw(LangfuseModel);
            if (usage.TryGetProperty("prompt_tokens", out _) || usage.TryGetProperty("completion_tokens", out _))
            {
                var (prompt, completion, total) = (Count(usage, "prompt_tokens"), Count(usage, "completion_tokens"), Count(usage, "total_tokens"));
                var cached = Nested(usage, "prompt_tokens_details", "cached_tokens");
                var reasoning = Nested(usage, "completion_tokens_details", "reasoning_tokens");
                return Report([prompt, completion, cached, reasoning, total], () => new UsageReport
                {
                    Input = prompt.Value, Output = completion.Value, CacheRead = cached.Value, Reasoning = reasoning.Value, Total = total.Value,
                    Model = model, IsModelCall = true,
                });
            }

            var counts = usage.EnumerateObject().Select(p => (p.Name, Reading: Count(usage, p.Name))).ToList();
            if (counts.FirstOrDefault(c => c.Reading.Error is not null) is { Reading.Error: { } error } bad)
            {
                return new UsageReport { Error = new UsageProblem(error, bad.Reading.Code) };
            }

            long? Of(Func<string, bool> keys) => counts.Where(c => keys(c.Name) && c.Reading.Value is not null) is var found && found.Any() ? found.Sum(c => c.Reading.Value!.Value) : null;
            var input = Of(k => k == "input");
            var output = Of(k => k == "output");
            var inputParts = Of(k => k.StartsWith("input_", StringComparison.Ordinal));
            var outputParts = Of(k => k.StartsWith("output_", StringComparison.Ordinal));
            if (input is null && output is null && inputParts is null && outputParts is null)
            {
                return null;
            }

            return new UsageReport
            {
                Input = Sum(input, inputParts), Output = Sum(output, outputParts),
                CacheRead = Of(k => k is "input_cache_read" or "input_cached_tokens" or "input_cache_read_input_tokens"),
                CacheWrite = Of(k => k is "input_cache_creation" or "input_cache_write" or "input_cache_creation_input_tokens"),
                Reasoning = Of(k => k is "output_reasoning" or "output_reasoning_tokens"),
                Total = Of(k => k == "total"), Model = model, IsModelCall = true,
            };
        });
    }

    private static CountReading Nested(JsonElement usage, string details, string name) =>
        usage.TryGetProperty(details, out var nested) && nested.ValueKind == JsonValueKind.Object ? Count(nested, name) : CountReading.Absent;

    /// <summary>
    /// Genkit model actions only (<c>genkit:type</c> action, subtype model): the <c>generate</c> util span and flows repeat
    /// the last model call's usage in their output and are never read. <c>outputTokens</c> leaves thinking out
    /// (<c>thoughtsTokens</c>); the model is the action's name (<c>googleai/gemini-2.5-flash</c>).
    /// </summary>
    private static UsageReport? Genkit(SpanAttributes attributes)
    {
        if (attributes.Raw(GenkitType) != "action" || attributes.Raw(GenkitSubtype) != "model" || attributes.Raw(GenkitOutput) is not { } output)
        {
            return null;
        }

        return FromJson(GenkitOutput, output, json =>
        {
            if (!json.TryGetProperty("usage", out var usage) || usage.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var (input, outputTokens, thoughts, cached, total) = (Count(usage, "inputTokens"), Count(usage, "outputTokens"), Count(usage, "thoughtsTokens"),
                Count(usage, "cachedContentTokens"), Count(usage, "totalTokens"));
            return Report([input, outputTokens, thoughts, cached, total], () => new UsageReport
            {
                Input = input.Value, Output = Sum(outputTokens.Value, thoughts.Value), Reasoning = thoughts.Value, CacheRead = cached.Value, Total = total.Value,
                Model = attributes.Raw(GenkitName), IsModelCall = true,
            });
        });
    }

    /// <summary>
    /// ADK's <c>call_llm</c> span before it set <c>gen_ai.usage.*</c> (through 1.4): <c>usage_metadata</c> of the response,
    /// Gemini's counts (prompt includes the cached part; candidates leave thinking out); the model is <c>model_version</c>.
    /// </summary>
    private static UsageReport? Adk(SpanAttributes attributes)
    {
        if (attributes.Raw(AdkLlmResponse) is not { } response)
        {
            return null;
        }

        return FromJson(AdkLlmResponse, response, json =>
        {
            if (!json.TryGetProperty("usage_metadata", out var usage) || usage.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var (prompt, candidates, thoughts, cached, total) = (Count(usage, "prompt_token_count"), Count(usage, "candidates_token_count"),
                Count(usage, "thoughts_token_count"), Count(usage, "cached_content_token_count"), Count(usage, "total_token_count"));
            var model = json.TryGetProperty("model_version", out var version) && version.ValueKind == JsonValueKind.String ? version.GetString() : null;
            return Report([prompt, candidates, thoughts, cached, total], () => new UsageReport
            {
                Input = prompt.Value, Output = Sum(candidates.Value, thoughts.Value), Reasoning = thoughts.Value, CacheRead = cached.Value, Total = total.Value,
                Model = model is { Length: > 0 } ? model : null, IsModelCall = true,
            });
        });
    }

    private static long? Sum(long? a, long? b) => a is null && b is null ? null : (a ?? 0) + (b ?? 0);

    /// <summary>No counts: null; an unreadable count: the error; else the report.</summary>
    private static UsageReport? Report(CountReading[] counts, Func<UsageReport> report)
    {
        if (counts.FirstOrDefault(c => c.Error is not null) is { Error: { } error, Code: var code })
        {
            return new UsageReport { Error = new UsageProblem(error, code) };
        }

        return counts.Take(counts.Length - 1).All(c => c.IsAbsent) ? null : report();
    }

    private static UsageReport? FromJson(string attribute, string text, Func<JsonElement, UsageReport?> read)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object ? read(document.RootElement) : null;
        }
        catch (JsonException)
        {
            // A payload that is not JSON carries no usage we can read; the span is not a model call we can bill.
            return new UsageReport { Error = new UsageProblem($"'{attribute}' is not JSON, so its usage cannot be read.", "unreadable_payload") };
        }
    }

    /// <summary>A count from a JSON number (integral doubles too, as Python emits them) or a numeric string.</summary>
    private static CountReading Count(JsonElement usage, string name)
    {
        if (!usage.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return CountReading.Absent;
        }

        var text = value.ValueKind switch
        {
            JsonValueKind.Number => value.GetRawText(),
            JsonValueKind.String => value.GetString() ?? "",
            _ => null,
        };
        return text is null
            ? new(null, $"'{name}' is {value.ValueKind}, not a token count.", "not_a_count")
            : SpanAttributes.ParseCount(name, text);
    }
}
