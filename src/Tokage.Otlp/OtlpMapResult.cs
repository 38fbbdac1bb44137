using Tokage.Contracts.V1;

namespace Tokage.Otlp;

/// <summary>What an OTLP trace export holds for metering.</summary>
/// <param name="Usage">One entry per span that carries token usage, in the request's order.</param>
/// <param name="Spans">Every span's ids, with or without usage, so the caller can work out ancestry across requests.</param>
/// <param name="Rejected">Spans that carry usage but cannot become an event (bad ids, unreadable counts).</param>
public sealed record OtlpMapResult(IReadOnlyList<SpanUsage> Usage, IReadOnlyList<SpanLink> Spans, IReadOnlyList<RejectedSpan> Rejected);

/// <summary>The instrumentation scope a span came from (its name and version, either possibly empty).</summary>
public readonly record struct ScopeName(string Name, string Version);

/// <summary>A span's place in its trace; <paramref name="ParentSpanIdHex"/> is empty for a root span.</summary>
public sealed record SpanLink(string TraceIdHex, string SpanIdHex, string ParentSpanIdHex, ScopeName Scope = default);

/// <summary>A span carrying token usage, mapped to a native event.</summary>
/// <param name="IsModelCall">
/// The span says it is a model call (GenAI operation, OpenInference LLM kind, Vercel <c>doGenerate</c>/<c>doStream</c>, …).
/// False for agent/workflow spans that sum their children and for spans that do not say: the caller bills those
/// only when no descendant carries usage.
/// </param>
/// <param name="Event">The event, ids hex, usage cache-inclusive; the caller validates it like any native event.</param>
/// <param name="Notes">What the mapping noticed and the exporter should hear of: <see cref="SpanNotes"/>.</param>
public sealed record SpanUsage(string TraceIdHex, string SpanIdHex, string ParentSpanIdHex, string SpanName, bool IsModelCall, TokenUsageEvent Event)
{
    public ScopeName Scope { get; init; }

    public IReadOnlyList<string> Notes { get; init; } = [];
}

/// <summary>A span with usage that could not be mapped: a short <paramref name="Code"/> for counting, and why.</summary>
public sealed record RejectedSpan(string TraceIdHex, string SpanIdHex, string SpanName, string Reason)
{
    public string Code { get; init; } = "invalid";

    public ScopeName Scope { get; init; }
}

/// <summary>The notes a mapped span can carry.</summary>
public static class SpanNotes
{
    /// <summary>The span reported a cost (<c>gen_ai.usage.cost</c>, <c>llm.cost.*</c>, …); Tokage prices every event itself.</summary>
    public const string ReportedCostIgnored = "reported_cost_ignored";

    /// <summary>A total above input + output with no reasoning count: the gap was taken as reasoning (thinking tokens left out).</summary>
    public const string ReasoningFromTotal = "reasoning_from_total";

    /// <summary>The span's audio, image or video counts did not fit its totals: they were left out and it was priced as text.</summary>
    public const string ModalitiesDropped = "modalities_dropped";

    /// <summary>The span carries usage but names no model: stored unpriced.</summary>
    public const string ModelMissing = "model_missing";
}
