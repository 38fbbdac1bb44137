using OpenTelemetry.Proto.Collector.Trace.V1;
using Tokage.ApiKeys;
using Tokage.Ingestion.Ingest;
using Tokage.Otlp;

namespace Tokage.Ingestion.Otlp;

/// <summary>What an export came to: the OTLP answer, or the retryable failure that refused all of it.</summary>
public sealed record OtlpOutcome(ExportTraceServiceResponse Response, IngestFailure Failure = IngestFailure.None, TimeSpan RetryAfter = default)
{
    public string? FailureDetail { get; init; }
}

/// <summary>
/// An OTLP trace export, whatever it came over: its spans mapped to usage events (<see cref="SpanUsageMapper"/>), the
/// spans that repeat usage found below them left unbilled (<see cref="UsageAncestry"/>), and the rest through the
/// native pipeline — the same validation, rate limit and log, acknowledged only once the log has them. A span whose
/// usage names no model is stored unpriced, never dropped; spans without usage are accepted and ignored; spans whose
/// usage cannot be read or fails validation are reported as rejected (partial success). What each instrumentation
/// scope's spans came to is counted for the OTLP report (<see cref="OtlpReportWriter"/>).
/// </summary>
public sealed class OtlpIngest(IngestPipeline pipeline, UsageAncestry ancestry, OtlpReportWriter report, Microsoft.Extensions.Options.IOptions<IngestOptions> options)
{
    public const string Source = "otlp";

    /// <summary>How long an exporter is told to wait when the ancestry store cannot be read.</summary>
    public static readonly TimeSpan AncestryRetryAfter = TimeSpan.FromSeconds(5);

    public async Task<OtlpOutcome> IngestAsync(ApiKeyIdentity identity, ExportTraceServiceRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await IngestMappedAsync(identity, request, cancellationToken);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or StackExchange.Redis.RedisTimeoutException)
        {
            // Without the ancestry a wrapper would be billed beside its children: refuse the export retryably, exporters resend it.
            return new OtlpOutcome(new ExportTraceServiceResponse(), IngestFailure.AncestryUnavailable, AncestryRetryAfter);
        }
    }

    private async Task<OtlpOutcome> IngestMappedAsync(ApiKeyIdentity identity, ExportTraceServiceRequest request, CancellationToken cancellationToken)
    {
        var mapped = SpanUsageMapper.Map(request);
        var tally = new Tally();
        foreach (var span in mapped.Spans)
        {
            tally.Add(span.Scope, OtlpReportCounters.Received);
        }

        var withUsage = mapped.Usage.Select(u => (u.TraceIdHex, u.SpanIdHex)).Concat(mapped.Rejected.Select(r => (r.TraceIdHex, r.SpanIdHex))).ToHashSet();
        foreach (var span in mapped.Spans.Where(s => !withUsage.Contains((s.TraceIdHex, s.SpanIdHex))))
        {
            tally.Add(span.Scope, OtlpReportCounters.WithoutUsage);
        }

        foreach (var rejected in mapped.Rejected)
        {
            tally.Add(rejected.Scope, OtlpReportCounters.RejectedPrefix + rejected.Code);
        }

        var refused = mapped.Rejected.Select(r => $"span {r.SpanIdHex} of trace {r.TraceIdHex}: {r.Reason}").ToList();
        var billed = mapped.Usage;
        if (billed.Count > 0)
        {
            var nodes = mapped.Spans.Select(s => new SpanNode(s.TraceIdHex, s.SpanIdHex, s.ParentSpanIdHex)).ToList();
            var wrappers = await ancestry.WrappersAsync(identity.TenantId, nodes, billed.Select(u => (u.TraceIdHex, u.SpanIdHex)).ToList());

            // Exporters send spans as they end, often each in a request of its own and at the same moment: a span that
            // does not say it is a model call waits a moment for its children's requests to mark it, then looks again.
            var undecided = billed.Where(u => !u.IsModelCall && !wrappers.Contains((u.TraceIdHex, u.SpanIdHex))).Select(u => (u.TraceIdHex, u.SpanIdHex)).ToList();
            if (undecided.Count > 0 && options.Value.WrapperSettle > TimeSpan.Zero)
            {
                await Task.Delay(options.Value.WrapperSettle, cancellationToken);
                wrappers.UnionWith(await ancestry.WrappersAsync(identity.TenantId, nodes, undecided));
            }
            foreach (var wrapper in billed.Where(u => wrappers.Contains((u.TraceIdHex, u.SpanIdHex))))
            {
                tally.Add(wrapper.Scope, OtlpReportCounters.Wrapper);
            }

            billed = [.. billed.Where(u => !wrappers.Contains((u.TraceIdHex, u.SpanIdHex)))];
        }

        var notes = new List<string>();
        if (billed.Count > 0)
        {
            var outcome = await pipeline.IngestAsync(identity, [.. billed.Select(u => new IngestCandidate(u.Event, [], false, ModelOptional: true))], Source, cancellationToken);
            if (outcome.Failure != IngestFailure.None)
            {
                // Nothing of the export was taken: the exporter retries it whole, and it is counted then.
                return new OtlpOutcome(new ExportTraceServiceResponse(), outcome.Failure, outcome.RetryAfter) { FailureDetail = outcome.FailureDetail };
            }

            var rejectedIndexes = outcome.Rejected.Select(r => r.Index).ToHashSet();
            foreach (var rejection in outcome.Rejected)
            {
                var span = billed[rejection.Index];
                refused.Add($"span {span.SpanIdHex} of trace {span.TraceIdHex}: {string.Join(", ", rejection.Errors.Select(e => $"{e.Field} {e.Code}"))}");
                tally.Add(span.Scope, OtlpReportCounters.RejectedPrefix + string.Join("+", rejection.Errors.Select(e => $"{e.Field}.{e.Code}").Distinct()));
            }

            var accepted = billed.Where((_, i) => !rejectedIndexes.Contains(i)).ToList();
            foreach (var span in accepted)
            {
                tally.Add(span.Scope, OtlpReportCounters.Accepted);
                foreach (var note in span.Notes)
                {
                    tally.Add(span.Scope, OtlpReportCounters.NotePrefix + note);
                }
            }

            notes.AddRange(Notes(accepted));
        }

        await report.CountAsync(identity.TenantId, tally.Counts);
        return new OtlpOutcome(Answer(refused, notes));
    }

    /// <summary>What the exporter should hear of the spans it sent, though they were taken.</summary>
    private static IEnumerable<string> Notes(List<SpanUsage> accepted)
    {
        var costs = accepted.Count(u => u.Notes.Contains(SpanNotes.ReportedCostIgnored));
        if (costs > 0)
        {
            yield return $"reported cost ignored on {costs} span(s): Tokage prices every event server-side";
        }

        var fromTotal = accepted.Count(u => u.Notes.Contains(SpanNotes.ReasoningFromTotal));
        if (fromTotal > 0)
        {
            yield return $"{fromTotal} span(s) reported a total above input + output and no reasoning count: the gap was billed as reasoning tokens";
        }

        var modalities = accepted.Count(u => u.Notes.Contains(SpanNotes.ModalitiesDropped));
        if (modalities > 0)
        {
            yield return $"{modalities} span(s) reported audio, image or video counts that do not fit their totals: those were priced as text";
        }

        var modelless = accepted.Count(u => u.Event.Model.Length == 0);
        if (modelless > 0)
        {
            yield return $"{modelless} span(s) with usage name no model: stored unpriced (model_missing)";
        }
    }

    /// <summary>
    /// Success, with <c>partial_success</c> naming the first refused spans when there are any; notes alone go in its
    /// error message with no span rejected, as the OTLP specification allows for warnings.
    /// </summary>
    private static ExportTraceServiceResponse Answer(List<string> refused, List<string> notes) => refused.Count == 0 && notes.Count == 0
        ? new ExportTraceServiceResponse()
        : new ExportTraceServiceResponse
        {
            PartialSuccess = new ExportTracePartialSuccess
            {
                RejectedSpans = refused.Count,
                ErrorMessage = string.Join("; ", refused.Take(5).Concat(refused.Count > 5 ? [$"and {refused.Count - 5} more"] : []).Concat(notes)),
            },
        };

    private sealed class Tally
    {
        public Dictionary<(ScopeName Scope, string Counter), long> Counts { get; } = [];

        public void Add(ScopeName scope, string counter) => Counts[(scope, counter)] = Counts.GetValueOrDefault((scope, counter)) + 1;
    }
}
