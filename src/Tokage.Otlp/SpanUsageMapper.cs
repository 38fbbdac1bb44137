using System.Globalization;
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
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                var scope = new ScopeName(scopeSpans.Scope?.Name ?? "", scopeSpans.Scope?.Version ?? "");
                foreach (var span in scopeSpans.Spans)
                {
                    var traceId = Hex(span.TraceId);
                    var spanId = Hex(span.SpanId);
                    var parentSpanId = Hex(span.ParentSpanId);
                    spans.Add(new(traceId, spanId, parentSpanId, scope));

                    var attributes = new SpanAttributes(SpanAttributes.Index(span.Attributes), resource);
                    switch (ReadUsage(attributes))
                    {
                        case null:
                            continue;
                        case { Error: { } error, ErrorCode: var code }:
                            rejected.Add(new(traceId, spanId, span.Name, error) { Code = code, Scope = scope });
                            continue;
                        case { } reading:
                            if (IdProblem(span) is { } idProblem)
                            {
                                rejected.Add(new(traceId, spanId, span.Name, idProblem) { Code = "invalid_ids", Scope = scope });
                                continue;
                            }

                            var isModelCall = IsModelCall(span.Name, attributes) || reading.Report.IsModelCall;
                            var e = ToEvent(span, traceId, spanId, attributes, reading, scope);
                            usage.Add(new(traceId, spanId, parentSpanId, span.Name, isModelCall, e) { Scope = scope, Notes = reading.Notes });
                            break;
                    }
                }
            }
        }

        return new(usage, spans, rejected);
    }

    private sealed record UsageReading(TokenCounts Counts, UsageReport Report, IReadOnlyList<string> Notes, string? Error = null, string ErrorCode = "");

    /// <summary>The span's token counts; null when it carries none (or only a summary of its children's).</summary>
    private static UsageReading? ReadUsage(SpanAttributes attributes)
    {
        if (UsageReport.Read(attributes) is not { } report)
        {
            return null;
        }

        if (report.Error is { } error)
        {
            return new(default, report, [], error.Message, error.Code);
        }

        var notes = new List<string>();
        var input = report.Input ?? 0;
        var outputTokens = report.Output ?? 0;
        var reasoningTokens = report.Reasoning ?? 0;

        // Output counts reasoning; a reasoning count above it means the output was reported without it (as
        // Gemini's candidates count is), the same way cache parts above the input mean a cache-exclusive input.
        if (reasoningTokens > outputTokens)
        {
            outputTokens += reasoningTokens;
        }

        // A total above input + output with no reasoning count: the instrumentation left thinking tokens out of the
        // output (some Vertex instrumentations do). The gap is billed as reasoning, and said so.
        if (report.Reasoning is null && report.Total is { } total && total > input + outputTokens && report.Input is not null && report.Output is not null)
        {
            reasoningTokens = total - input - outputTokens;
            outputTokens += reasoningTokens;
            notes.Add(SpanNotes.ReasoningFromTotal);
        }

        if (report.ReportedCost)
        {
            notes.Add(SpanNotes.ReportedCostIgnored);
        }

        var counts = TokenCounts.FromReported(input, report.CacheRead ?? 0, report.CacheWrite ?? 0, report.CacheWrite1h ?? 0, outputTokens, reasoningTokens);
        if (counts.CacheRead + counts.CacheWrite + counts.CacheWrite1h > counts.Input || counts.Reasoning > counts.Output)
        {
            return new(default, report, [], "The span's cache or reasoning counts do not fit its input or output.", "inconsistent_counts");
        }

        // Audio, image and video parts price apart from text where the model has rates; parts that do not fit the
        // totals are left out (priced as text, never refused) and the note says so.
        if (report.Modalities.Any)
        {
            if (report.Modalities.Misfit(counts) is null)
            {
                counts = counts with { Modalities = report.Modalities };
            }
            else
            {
                notes.Add(SpanNotes.ModalitiesDropped);
            }
        }

        return new(counts, report, notes);
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

    private static TokenUsageEvent ToEvent(Span span, string traceId, string spanId, SpanAttributes attributes, UsageReading reading, ScopeName scope)
    {
        var model = reading.Report.Model ?? attributes.OnSpan(GenAiAttributes.Model) ?? "";
        var counts = reading.Counts;
        var e = new TokenUsageEvent
        {
            // A re-sent span is the same event: the dedupe key makes it a duplicate.
            EventId = traceId + spanId,
            Timestamp = ToTimestamp(span.EndTimeUnixNano != 0 ? span.EndTimeUnixNano : span.StartTimeUnixNano),
            // As reported: the pricer maps provider names to families and resolves provider-specific model names.
            Provider = reading.Report.Provider ?? Provider(attributes, model),
            Model = model,
            Usage = new TokenUsage
            {
                InputTokens = counts.Input,
                CacheReadTokens = counts.CacheRead,
                CacheWriteTokens = counts.CacheWrite,
                CacheWrite1HTokens = counts.CacheWrite1h,
                OutputTokens = counts.Output,
                ReasoningTokens = counts.Reasoning,
                AudioInputTokens = counts.Modalities.AudioInput,
                ImageInputTokens = counts.Modalities.ImageInput,
                VideoInputTokens = counts.Modalities.VideoInput,
                AudioCacheReadTokens = counts.Modalities.AudioCacheRead,
                ImageCacheReadTokens = counts.Modalities.ImageCacheRead,
                AudioCacheWriteTokens = counts.Modalities.AudioCacheWrite,
                AudioOutputTokens = counts.Modalities.AudioOutput,
                ImageOutputTokens = counts.Modalities.ImageOutput,
                Images = attributes.Count(GenAiAttributes.Images) is { Error: null, Value: { } images } ? images : 0,
                AudioSeconds = attributes.Quantity(GenAiAttributes.AudioSeconds)?.ToString(CultureInfo.InvariantCulture) ?? "",
                WebSearchQueries = attributes.Count(GenAiAttributes.WebSearchQueries) is { Error: null, Value: { } searches } ? searches : 0,
            },
            ServiceTier = ServiceTier(attributes.OnSpan(GenAiAttributes.ServiceTier)),
            Application = attributes.OnSpanOrResource(GenAiAttributes.Application) ?? ServiceName(attributes) ?? "",
            Project = attributes.OnSpanOrResource(GenAiAttributes.Project) ?? "",
            UserId = attributes.OnSpanOrResource(GenAiAttributes.User) ?? "",
            Team = attributes.OnSpanOrResource(GenAiAttributes.Team) ?? "",
            Environment = attributes.OnSpanOrResource(GenAiAttributes.Environment) ?? "",
            Customer = attributes.OnSpanOrResource(GenAiAttributes.Customer) ?? "",
            ReservationId = attributes.OnSpan(GenAiAttributes.ReservationId) ?? "",
            TraceId = traceId,
            SpanId = spanId,
        };

        if (span.Name.Length > 0)
        {
            e.Metadata["otel.span_name"] = Truncate(span.Name);
        }

        if (attributes.OnSpan(GenAiAttributes.OperationName) is { } operation)
        {
            e.Metadata[GenAiAttributes.OperationName] = Truncate(operation);
        }

        // The OTLP report counts per instrumentation scope; these say which one produced the event.
        if (scope.Name.Length > 0)
        {
            e.Metadata[ScopeNameKey] = Truncate(scope.Name);
        }

        if (scope.Version.Length > 0)
        {
            e.Metadata[ScopeVersionKey] = Truncate(scope.Version);
        }

        if (attributes.OnSpanOrResource(GenAiAttributes.Synthetic) is { } synthetic)
        {
            e.Metadata[GenAiAttributes.Synthetic[0]] = Truncate(synthetic);
        }

        if (model.Length == 0)
        {
            e.Metadata[UnpricedReasonKey] = SpanNotes.ModelMissing;
        }

        if (reading.Notes.Contains(SpanNotes.ReasoningFromTotal))
        {
            e.Metadata[SpanNotes.ReasoningFromTotal] = "true";
        }

        if (reading.Notes.Contains(SpanNotes.ModalitiesDropped))
        {
            e.Metadata[SpanNotes.ModalitiesDropped] = "true";
        }

        return e;
    }

    /// <summary>Event metadata keys the OTLP path writes.</summary>
    public const string ScopeNameKey = "otel.scope.name";
    public const string ScopeVersionKey = "otel.scope.version";
    public const string UnpricedReasonKey = "tokage.unpriced_reason";

    private static string Truncate(string text) => text.Length > MaxSpanNameInMetadata ? text[..MaxSpanNameInMetadata] : text;

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
        { } tier when ServiceTiers.IsNamed(tier) => tier,
        _ => "",
    };

    private static Timestamp? ToTimestamp(ulong unixNanos) => unixNanos == 0
        ? null
        : new Timestamp { Seconds = (long)(unixNanos / 1_000_000_000), Nanos = (int)(unixNanos % 1_000_000_000) };

    private static string Hex(ByteString id) => id.IsEmpty ? "" : Convert.ToHexStringLower(id.Span);
}
