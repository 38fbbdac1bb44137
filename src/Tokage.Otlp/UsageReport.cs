using Tokage.Pricing;
namespace Tokage.Otlp;

/// <summary>A problem that keeps a span's usage from being read: the reason, and a short code to count it by.</summary>
public sealed record UsageProblem(string Message, string Code);

/// <summary>
/// Token usage as one span reports it, before it is made cache- and reasoning-inclusive: the GenAI conventions and
/// their variants first (<see cref="GenAiAttributes"/>), then, for a span that carries none of those, the usage a
/// framework puts in attributes of its own (<see cref="FrameworkUsage"/>).
/// </summary>
internal sealed record UsageReport
{
    public long? Input { get; init; }
    public long? Output { get; init; }
    public long? CacheRead { get; init; }
    public long? CacheWrite { get; init; }
    public long? CacheWrite1h { get; init; }
    public long? Reasoning { get; init; }

    /// <summary>The non-text parts the span reports (audio, image, video), each inside its total; default when none.</summary>
    public ModalityCounts Modalities { get; init; }

    /// <summary>A total beside the split (<c>gen_ai.usage.total_tokens</c>, …): alone it is not usage.</summary>
    public long? Total { get; init; }

    /// <summary>A model or provider the framework's own attributes name, before the conventions' attributes.</summary>
    public string? Model { get; init; }
    public string? Provider { get; init; }

    /// <summary>The framework's own attributes say the span is one call to a model.</summary>
    public bool IsModelCall { get; init; }

    /// <summary>The span reported a cost of its own; it is ignored (Tokage prices every event) and noted.</summary>
    public bool ReportedCost { get; init; }

    public UsageProblem? Error { get; init; }

    /// <summary>The span's usage; null when it carries none.</summary>
    public static UsageReport? Read(SpanAttributes attributes)
    {
        var input = attributes.Count(GenAiAttributes.InputTokens);
        var output = attributes.Count(GenAiAttributes.OutputTokens);
        var cacheRead = attributes.Count(GenAiAttributes.CacheReadTokens);
        var cacheWrite = attributes.Count(GenAiAttributes.CacheWriteTokens);
        var cacheWrite1h = attributes.Count(GenAiAttributes.CacheWrite1hTokens);
        var reasoning = attributes.Count(GenAiAttributes.ReasoningTokens);
        var total = attributes.Count(GenAiAttributes.TotalTokens);
        var reportedCost = attributes.HasAny(GenAiAttributes.ReportedCost);
        CountReading[] split = [input, output, cacheRead, cacheWrite, cacheWrite1h, reasoning];
        if (split.All(c => c.IsAbsent))
        {
            return FrameworkUsage.Read(attributes) is { } framework ? framework with { ReportedCost = framework.ReportedCost || reportedCost } : null;
        }

        if (split.Append(total).FirstOrDefault(c => c.Error is not null) is { Error: { } error, Code: var code })
        {
            return new UsageReport { Error = new UsageProblem(error, code) };
        }

        long Part(string[] keys) => attributes.Count(keys) is { Error: null, Value: { } value } ? value : 0;
        var report = new UsageReport
        {
            Input = input.Value, Output = output.Value, CacheRead = cacheRead.Value, CacheWrite = cacheWrite.Value, CacheWrite1h = cacheWrite1h.Value,
            Reasoning = reasoning.Value, Total = total.Value, ReportedCost = reportedCost,
            Modalities = new ModalityCounts(
                Part(GenAiAttributes.AudioInputTokens), Part(GenAiAttributes.ImageInputTokens), Part(GenAiAttributes.VideoInputTokens),
                Part(GenAiAttributes.AudioCacheReadTokens), Part(GenAiAttributes.ImageCacheReadTokens), 0,
                Part(GenAiAttributes.AudioOutputTokens), Part(GenAiAttributes.ImageOutputTokens)),
        };

        // The conventions say nothing of some splits a framework's own attributes carry (the Vercel AI SDK's
        // provider metadata holds Anthropic's and Bedrock's cache counts): they fill what the conventions left out.
        return FrameworkUsage.Enrich(report, attributes);
    }
}
