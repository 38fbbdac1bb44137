using Tokage.SyntheticMonitor.Consistency;
using Tokage.SyntheticMonitor.Probes;
using Tokage.SyntheticMonitor.Slo;

namespace Tokage.SyntheticMonitor.Apis;

/// <summary><c>GET /v1/monitor/status</c>: what the probes, the SLO and the consistency checks last saw (no tenant data).</summary>
public static class MonitorApi
{
    public static void MapMonitorApi(this WebApplication app) =>
        app.MapGet("/v1/monitor/status", GetStatus).WithName("GetMonitorStatus").WithSummary("The probes' last results, the SLO burn rates and alerts, lag and rollup checks.").WithTags("Monitor");

    private static IResult GetStatus(ProbeRunner probes, ConsistencyChecker consistency, MonitorMetrics metrics) => TypedResults.Ok(new
    {
        paths = probes.Status.Select(p => new
        {
            path = p.Path, last_sent_at = p.LastSentAt, last_outcome = p.LastOutcome, last_detail = p.LastDetail, last_ingest_seconds = p.LastIngestSeconds,
            last_freshness_seconds = p.LastFreshnessSeconds, last_queryable_at = p.LastQueryableAt, missing = p.Missing, lost = p.Lost, price_mismatches = p.PriceMismatches,
        }),
        slo = new
        {
            burn_rates = metrics.BurnRates,
            alerts = probes.Alerts.Select(a => new { alert = a.Name, firing = a.Firing, long_window_burn_rate = a.LongBurn, short_window_burn_rate = a.ShortBurn, threshold = a.Rule.BurnRate }),
        },
        processor = new
        {
            lag_events = metrics.Backlog?.Pending,
            oldest_pending_seconds = metrics.OldestPendingAge?.TotalSeconds,
            dead_letters = metrics.Backlog?.DeadLettered,
        },
        rollups = new
        {
            checked_at = consistency.LastCheckedAt,
            comparisons = consistency.LastComparisons.Select(c => new { rollup = c.Rollup, from = c.From, to = c.To, agrees = c.Agrees, raw_events = c.Raw.Events, rollup_events = c.Rolled.Events }),
        },
    });
}
