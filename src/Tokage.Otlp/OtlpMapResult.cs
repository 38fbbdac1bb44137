using Tokage.Contracts.V1;

namespace Tokage.Otlp;

/// <summary>What an OTLP trace export holds for metering.</summary>
/// <param name="Usage">One entry per span that carries token usage, in the request's order.</param>
/// <param name="Spans">Every span's ids, with or without usage, so the caller can work out ancestry across requests.</param>
/// <param name="Rejected">Spans that carry usage but cannot become an event (bad ids, unreadable counts).</param>
public sealed record OtlpMapResult(IReadOnlyList<SpanUsage> Usage, IReadOnlyList<SpanLink> Spans, IReadOnlyList<RejectedSpan> Rejected);

/// <summary>A span's place in its trace; <paramref name="ParentSpanIdHex"/> is empty for a root span.</summary>
public sealed record SpanLink(string TraceIdHex, string SpanIdHex, string ParentSpanIdHex);

/// <summary>A span carrying token usage, mapped to a native event.</summary>
/// <param name="IsModelCall">
/// The span says it is a model call (GenAI operation, OpenInference LLM kind, Vercel <c>doGenerate</c>/<c>doStream</c>, …).
/// False for agent/workflow spans that sum their children and for spans that do not say: the caller bills those
/// only when no descendant carries usage.
/// </param>
/// <param name="Event">The event, ids hex, usage cache-inclusive; the caller validates it like any native event.</param>
public sealed record SpanUsage(string TraceIdHex, string SpanIdHex, string ParentSpanIdHex, string SpanName, bool IsModelCall, TokenUsageEvent Event);

/// <summary>A span with usage that could not be mapped, and why.</summary>
public sealed record RejectedSpan(string TraceIdHex, string SpanIdHex, string SpanName, string Reason);
