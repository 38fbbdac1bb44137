using System.Diagnostics.Metrics;

namespace Tokage.SyntheticMonitor.Probes;

/// <summary>The monitor's SLIs, in Prometheus as <c>tokage_probe_*</c>, <c>tokage_rollup_mismatch_total</c>, <c>tokage_processor_lag_events</c>, ….</summary>
public sealed class MonitorMetrics
{
    public const string MeterName = "Tokage.SyntheticMonitor";

    // Seconds around the 5 s objective, so the objective is a bucket boundary (le="5").
    private static readonly double[] SecondsBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 120];

    private readonly Histogram<double> ingest;
    private readonly Histogram<double> freshness;
    private readonly Counter<long> probes;
    private readonly Counter<long> lost;
    private readonly Counter<long> late;
    private readonly Counter<long> priceMismatches;
    private readonly Counter<long> rollupMismatches;
    private readonly Counter<long> alerts;
    private readonly Counter<long> webhookAttempts;
    private readonly Counter<long> rollupChecks;

    private readonly TimeProvider time;

    public MonitorMetrics(IMeterFactory meters, TimeProvider time)
    {
        this.time = time;
        var meter = meters.Create(MeterName);
        ingest = meter.CreateHistogram("tokage.probe.ingest", "s", "Time from sending a probe to its acknowledgement (202/OK), by path.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        freshness = meter.CreateHistogram("tokage.probe.freshness", "s", "Time from sending a probe to finding it priced and queryable, by path.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        probes = meter.CreateCounter<long>("tokage.probe.sent", description: "Probes sent, by path and outcome (accepted, refused, failed).");
        lost = meter.CreateCounter<long>("tokage.probe.lost", description: "Probes not queryable within the deadline, by path.");
        late = meter.CreateCounter<long>("tokage.probe.late", description: "Lost probes that showed up after the deadline, by path.");
        priceMismatches = meter.CreateCounter<long>("tokage.probe.price_mismatch", description: "Probes whose stored cost differs from the registry's price, by path.");
        rollupMismatches = meter.CreateCounter<long>("tokage.rollup.mismatch", description: "Consistency checks where a rollup disagreed with the raw rows, by rollup.");
        alerts = meter.CreateCounter<long>("tokage.monitor.alerts", description: "SLO alert notifications, by alert and state (firing, resolved).");
        rollupChecks = meter.CreateCounter<long>("tokage.rollup.checks", description: "Rollup consistency checks, by outcome (agree, mismatch, inconclusive while the processor was busy).");
        webhookAttempts = meter.CreateCounter<long>("tokage.webhook.attempts", description: "Webhook calls (SLO alerts), delivered or failed.");
        meter.CreateObservableGauge("tokage.processor.lag.events", () => Backlog?.Pending ?? 0,
            description: "Log entries the processor has not committed (unread or read and unacknowledged).");
        meter.CreateObservableGauge("tokage.processor.oldest_pending.age", () => OldestPendingAge?.TotalSeconds ?? 0, "s",
            "Age of the oldest log entry the processor has not committed (0: none).");
        meter.CreateObservableGauge("tokage.dead_letter.events", () => Backlog?.DeadLettered ?? 0,
            description: "Records in the dead-letter stream or topic.");
        meter.CreateObservableGauge("tokage.probe.missing", () => Missing.Select(m => new Measurement<long>(m.Value, new KeyValuePair<string, object?>("path", m.Key))),
            description: "Probes past the deadline and still not queryable, by path.");
        meter.CreateObservableGauge("tokage.slo.freshness.burn_rate", () => BurnRates.Select(b => new Measurement<double>((double)b.Value, new KeyValuePair<string, object?>("window", b.Key))),
            description: "How fast the freshness error budget burns over each alert window (1 = exactly on budget).");
        meter.CreateObservableGauge("tokage.slo.alert.firing", () => Firing.Select(f => new Measurement<int>(f.Value ? 1 : 0, new KeyValuePair<string, object?>("alert", f.Key))),
            description: "Whether each burn-rate alert is firing.");
    }

    public Tokage.EventLog.EventLogBacklog? Backlog { get; set; }

    /// <summary>How old the oldest uncommitted entry is now (it keeps ageing between reads of the backlog).</summary>
    public TimeSpan? OldestPendingAge => Backlog?.OldestPendingAppendedAt is { } oldest ? time.GetUtcNow() - oldest : null;

    public IReadOnlyDictionary<string, long> Missing { get; set; } = new Dictionary<string, long>();

    public IReadOnlyDictionary<string, decimal> BurnRates { get; set; } = new Dictionary<string, decimal>();

    public IReadOnlyDictionary<string, bool> Firing { get; set; } = new Dictionary<string, bool>();

    public void Sent(ProbePath path, string outcome, TimeSpan elapsed)
    {
        probes.Add(1, Path(path), new("outcome", outcome));
        if (outcome == "accepted")
        {
            ingest.Record(elapsed.TotalSeconds, Path(path));
        }
    }

    public void Queryable(ProbePath path, TimeSpan freshnessTime, bool wasLost)
    {
        freshness.Record(freshnessTime.TotalSeconds, Path(path));
        if (wasLost)
        {
            late.Add(1, Path(path));
        }
    }

    public void Lost(ProbePath path) => lost.Add(1, Path(path));

    public void PriceMismatch(ProbePath path) => priceMismatches.Add(1, Path(path));

    public void RollupMismatch(string rollup) => rollupMismatches.Add(1, new KeyValuePair<string, object?>("rollup", rollup));

    public void Alert(string alert, string state) => alerts.Add(1, new("alert", alert), new("state", state));

    public void RollupCheck(string outcome) => rollupChecks.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void WebhookAttempt(string outcome) => webhookAttempts.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    private static KeyValuePair<string, object?> Path(ProbePath path) => new("path", path.Label());
}
