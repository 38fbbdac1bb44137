using OpenTelemetry.Proto.Collector.Trace.V1;
using Tokage.ApiKeys;
using Tokage.Ingestion.Ingest;
using Tokage.Otlp;

namespace Tokage.Ingestion.Otlp;

/// <summary>What an export came to: the OTLP answer, or the retryable failure that refused all of it.</summary>
public sealed record OtlpOutcome(ExportTraceServiceResponse Response, IngestFailure Failure = IngestFailure.None, TimeSpan RetryAfter = default);

/// <summary>
/// An OTLP trace export, whatever it came over: its spans mapped to usage events (<see cref="SpanUsageMapper"/>), the
/// spans that repeat usage found below them left unbilled (<see cref="UsageAncestry"/>), and the rest through the
/// native pipeline — the same validation, rate limit and log, acknowledged only once the log has them. Spans without
/// usage are accepted and ignored; spans whose usage fails validation are reported as rejected (partial success).
/// </summary>
public sealed class OtlpIngest(IngestPipeline pipeline, UsageAncestry ancestry)
{
    public const string Source = "otlp";

    public async Task<OtlpOutcome> IngestAsync(ApiKeyIdentity identity, ExportTraceServiceRequest request, CancellationToken cancellationToken)
    {
        var mapped = SpanUsageMapper.Map(request);
        var refused = mapped.Rejected.Select(r => $"span {r.SpanIdHex} of trace {r.TraceIdHex}: {r.Reason}").ToList();
        if (mapped.Usage.Count == 0)
        {
            return new OtlpOutcome(Answer(refused));
        }

        var nodes = mapped.Spans.Select(s => new SpanNode(s.TraceIdHex, s.SpanIdHex, s.ParentSpanIdHex)).ToList();
        var wrappers = await ancestry.WrappersAsync(identity.TenantId, nodes, mapped.Usage.Select(u => (u.TraceIdHex, u.SpanIdHex)).ToList());
        var billed = mapped.Usage.Where(u => !wrappers.Contains((u.TraceIdHex, u.SpanIdHex))).ToList();
        if (billed.Count == 0)
        {
            return new OtlpOutcome(Answer(refused));
        }

        var outcome = await pipeline.IngestAsync(identity, billed.Select(u => new IngestCandidate(u.Event, [], false)).ToList(), Source, cancellationToken);
        if (outcome.Failure != IngestFailure.None)
        {
            return new OtlpOutcome(new ExportTraceServiceResponse(), outcome.Failure, outcome.RetryAfter);
        }

        refused.AddRange(outcome.Rejected.Select(r =>
            $"span {billed[r.Index].SpanIdHex} of trace {billed[r.Index].TraceIdHex}: {string.Join(", ", r.Errors.Select(e => $"{e.Field} {e.Code}"))}"));
        var response = Answer(refused);
        return new OtlpOutcome(response);
    }

    /// <summary>Success, with <c>partial_success</c> naming the first refused spans when there are any.</summary>
    private static ExportTraceServiceResponse Answer(List<string> refused) => refused.Count == 0
        ? new ExportTraceServiceResponse()
        : new ExportTraceServiceResponse
        {
            PartialSuccess = new ExportTracePartialSuccess
            {
                RejectedSpans = refused.Count,
                ErrorMessage = string.Join("; ", refused.Take(5)) + (refused.Count > 5 ? $"; and {refused.Count - 5} more" : ""),
            },
        };
}
