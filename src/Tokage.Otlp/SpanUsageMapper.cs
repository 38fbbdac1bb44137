using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using Tokage.Contracts.V1;
using Tokage.Pricing;

namespace Tokage.Otlp;

/// <summary>
/// OTLP spans to native usage events, across the GenAI conventions real clients emit (DESIGN §4, "OTLP spans").
/// The mapper does not decide what is billed: it marks the spans that say they are model calls and hands back every
/// span's ids, because whether a usage span has a descendant with usage is only known across requests.
/// </summary>
public static class SpanUsageMapper
{
    public const int TraceIdBytes = 16;
    public const int SpanIdBytes = 8;

    // Metadata is for finding the span again, not for copying it: the name, truncated to the name limit.
    private const int MaxSpanNameInMetadata = 256;

    public static OtlpMapResult Map(ExportTraceServiceRequest request)
    {
        var usage = new List<SpanUsage>();
        var spans = new List<SpanLink>();
        var rejected = new List<RejectedSpan>();
        foreach (var resourceSpans in request.ResourceSpans)
        {
            var resource = SpanAttributes.Index(resourceSpans.Resource?.Attributes ?? []);
            foreach (var span in resourceSpans.ScopeSpans.SelectMany(s => s.Spans))
            {
                var traceId = Hex(span.TraceId);
                var spanId = Hex(span.SpanId);
                var parentSpanId = Hex(span.ParentSpanId);
                spans.Add(new(traceId, spanId, parentSpanId));

                var attributes = new SpanAttributes(SpanAttributes.Index(span.Attributes), resource);
                switch (ReadUsage(attributes))
                {
                    case null:
                        continue;
                    case { Error: { } error }:
                        rejected.Add(new(traceId, spanId, span.Name, error));
                        continue;
                    case { Counts: var counts }:
                        if (IdProblem(span) is { } idProblem)
                        {
                            rejected.Add(new(traceId, spanId, span.Name, idProblem));
                            continue;
                        }

                        var isModelCall = IsModelCall(span.Name, attributes);
                        usage.Add(new(traceId, spanId, parentSpanId, span.Name, isModelCall, ToEvent(span, traceId, spanId, attributes, counts)));
                        break;
                }
            }
        }

        return new(usage, spans, rejected);
    }

    private sealed record UsageReading(TokenCounts Counts, string? Error);

    /// <summary>The span's token counts; null when it carries none.</summary>
    private static UsageReading? ReadUsage(SpanAttributes attributes)
    {
        var input = attributes.Count(GenAiAttributes.InputTokens);
        var output = attributes.Count(GenAiAttributes.OutputTokens);
        var cacheRead = attributes.Count(GenAiAttributes.CacheReadTokens);
        var cacheWrite = attributes.Count(GenAiAttributes.CacheWriteTokens);
        var reasoning = attributes.Count(GenAiAttributes.ReasoningTokens);
        CountReading[] all = [input, output, cacheRead, cacheWrite, reasoning];
        if (all.All(c => c.IsAbsent))
        {
            return null;
        }

        if (all.FirstOrDefault(c => c.Error is not null).Error is { } error)
        {
            return new(default, error);
        }

        // Output counts reasoning; a reasoning count above it means the output was reported without it (as
        // Gemini's candidates count is), the same way cache parts above the input mean a cache-exclusive input.
        var outputTokens = output.Value ?? 0;
        var reasoningTokens = reasoning.Value ?? 0;
        if (reasoningTokens > outputTokens)
        {
            outputTokens += reasoningTokens;
        }

        // No convention reports 1-hour cache writes separately yet; they arrive inside the cache writes.
        return new(TokenCounts.FromReported(input.Value ?? 0, cacheRead.Value ?? 0, cacheWrite.Value ?? 0, 0, outputTokens, reasoningTokens), null);
    }

    private static string? IdProblem(Span span)
    {
        if (span.TraceId.Length != TraceIdBytes || span.TraceId.Span.IndexOfAnyExcept((byte)0) < 0)
        {
            return $"The span's trace id must be {TraceIdBytes} bytes, not all zero; it identifies the event.";
        }

        if (span.SpanId.Length != SpanIdBytes || span.SpanId.Span.IndexOfAnyExcept((byte)0) < 0)
        {
            return $"The span's span id must be {SpanIdBytes} bytes, not all zero; it identifies the event.";
        }

        return null;
    }

    private static bool IsModelCall(string spanName, SpanAttributes attributes)
    {
        if (attributes.OnSpan(GenAiAttributes.OperationName) is { } operation && GenAiAttributes.ModelCallOperations.Contains(operation))
        {
            return true;
        }

        if (attributes.OnSpan(GenAiAttributes.OpenInferenceSpanKind) is { } kind && GenAiAttributes.ModelCallSpanKinds.Contains(kind))
        {
            return true;
        }

        if (attributes.OnSpan(GenAiAttributes.OpenLlmetryRequestType) is { } requestType && GenAiAttributes.ModelCallRequestTypes.Contains(requestType))
        {
            return true;
        }

        // Vercel names the span after the operation, with the function id after a space in operation.name only.
        var vercelOperation = attributes.OnSpan(GenAiAttributes.VercelOperationId) ?? spanName;
        return GenAiAttributes.VercelModelCallSuffixes.Any(suffix => vercelOperation.EndsWith(suffix, StringComparison.Ordinal));
    }

    private static TokenUsageEvent ToEvent(Span span, string traceId, string spanId, SpanAttributes attributes, TokenCounts counts)
    {
        var model = attributes.OnSpan(GenAiAttributes.Model) ?? "";
        var e = new TokenUsageEvent
        {
            // A re-sent span is the same event: the dedupe key makes it a duplicate.
            EventId = traceId + spanId,
            Timestamp = ToTimestamp(span.EndTimeUnixNano != 0 ? span.EndTimeUnixNano : span.StartTimeUnixNano),
            // As reported: the pricer maps provider names to families.
            Provider = Provider(attributes, model),
            Model = model,
            Usage = new TokenUsage
            {
                InputTokens = counts.Input,
                CacheReadTokens = counts.CacheRead,
                CacheWriteTokens = counts.CacheWrite,
                CacheWrite1HTokens = counts.CacheWrite1h,
                OutputTokens = counts.Output,
                ReasoningTokens = counts.Reasoning,
            },
            ServiceTier = ServiceTier(attributes.OnSpan(GenAiAttributes.ServiceTier)),
            Application = attributes.OnSpanOrResource(GenAiAttributes.Application) ?? ServiceName(attributes) ?? "",
            Project = attributes.OnSpanOrResource(GenAiAttributes.Project) ?? "",
            UserId = attributes.OnSpanOrResource(GenAiAttributes.User) ?? "",
            Team = attributes.OnSpanOrResource(GenAiAttributes.Team) ?? "",
            Environment = attributes.OnSpanOrResource(GenAiAttributes.Environment) ?? "",
            Customer = attributes.OnSpanOrResource(GenAiAttributes.Customer) ?? "",
            TraceId = traceId,
            SpanId = spanId,
        };

        if (span.Name.Length > 0)
        {
            e.Metadata["otel.span_name"] = span.Name.Length > MaxSpanNameInMetadata ? span.Name[..MaxSpanNameInMetadata] : span.Name;
        }

        if (attributes.OnSpan(GenAiAttributes.OperationName) is { } operation)
        {
            e.Metadata[GenAiAttributes.OperationName] = operation;
        }

        return e;
    }

    private static string Provider(SpanAttributes attributes, string model)
    {
        if (attributes.OnSpan(GenAiAttributes.Provider) is { } provider)
        {
            return provider;
        }

        // LiteLLM-style "openai/gpt-4o" names its provider.
        if (model.IndexOf('/') is > 0 and var slash && ProviderNames.IsKnown(model[..slash]))
        {
            return model[..slash];
        }

        return attributes.OnSpan(GenAiAttributes.VercelModelProvider) ?? "";
    }

    // An SDK without a configured service name reports "unknown_service[:process]": that names no application.
    private static string? ServiceName(SpanAttributes attributes) =>
        attributes.OnSpanOrResource(GenAiAttributes.ServiceName) is { } name && !name.StartsWith("unknown_service", StringComparison.Ordinal)
            ? name
            : null;

    /// <summary>The native tier; OpenAI's "default" and "auto" are standard, and a tier Tokage does not price is standard too.</summary>
    private static string ServiceTier(string? reported) => reported?.ToLowerInvariant() switch
    {
        "standard" or "default" or "auto" => "standard",
        "batch" or "flex" or "priority" => reported.ToLowerInvariant(),
        _ => "",
    };

    private static Timestamp? ToTimestamp(ulong unixNanos) => unixNanos == 0
        ? null
        : new Timestamp { Seconds = (long)(unixNanos / 1_000_000_000), Nanos = (int)(unixNanos % 1_000_000_000) };

    private static string Hex(ByteString id) => id.IsEmpty ? "" : Convert.ToHexStringLower(id.Span);
}
