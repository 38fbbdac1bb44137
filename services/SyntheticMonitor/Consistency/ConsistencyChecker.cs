using Microsoft.Extensions.Options;
using Tokage.Analytics.Queries;
using Tokage.EventLog;
using Tokage.SyntheticMonitor.Probes;

namespace Tokage.SyntheticMonitor.Consistency;

/// <summary>A rollup's totals beside the raw rows' over the same range.</summary>
public sealed record RollupComparison(string Rollup, DateTimeOffset From, DateTimeOffset To, UsageTotals Raw, UsageTotals Rolled)
{
    public bool Agrees => Raw == Rolled;
}

/// <summary>
/// Every <see cref="MonitorOptions.LagInterval"/>, the processor's lag (entries it has not committed, and the oldest's
/// age) and the dead-letter log's length; every <see cref="MonitorOptions.ConsistencyInterval"/>, the operations tenant's
/// raw rows against every rollup (the last two days by hour, the last week by day, up to now): a rollup that still
/// disagrees a few seconds later (not an insert caught between its rows and its views) counts as a mismatch.
/// </summary>
public sealed class ConsistencyChecker(
    OperationsTenant tenant,
    IEventLog log,
    UsageQueries usage,
    MonitorMetrics metrics,
    IOptions<MonitorOptions> options,
    TimeProvider time,
    ILogger<ConsistencyChecker> logger) : BackgroundService
{
    private static readonly (UsageSource Source, bool Hourly)[] Rollups =
    [
        (UsageSource.Hourly, true), (UsageSource.HourlyCustomer, true), (UsageSource.Daily, false), (UsageSource.DailyCompact, false), (UsageSource.DailyUser, false),
    ];

    public IReadOnlyList<RollupComparison> LastComparisons { get; private set; } = [];

    public DateTimeOffset? LastCheckedAt { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lag = LagLoopAsync(stoppingToken);
        var (tenantId, _) = await tenant.ReadyAsync(stoppingToken);
        using var timer = new PeriodicTimer(options.Value.ConsistencyInterval, time);
        do
        {
            try
            {
                await CheckRollupsAsync(tenantId, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("The rollup consistency check could not run: {Error}", ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));

        await lag;
    }

    private async Task LagLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.LagInterval, time);
        do
        {
            try
            {
                metrics.Backlog = await log.BacklogAsync(options.Value.ProcessorGroup, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("The processor's lag could not be read: {Error}", ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>
    /// Compares every rollup with the raw rows; counts and returns the ones that disagree twice. A look is taken only while
    /// the processor has nothing uncommitted: a batch in flight shows its raw rows before its views have written the
    /// rollups, so a look then would report a disagreement that is not one. While the processor stays busy, the check is
    /// inconclusive (counted as such) and runs again at the next interval.
    /// </summary>
    public async Task<IReadOnlyList<RollupComparison>> CheckRollupsAsync(string tenantId, CancellationToken cancellationToken)
    {
        if (await QuietLookAsync(tenantId, Rollups, cancellationToken) is not { } first)
        {
            return [];
        }

        var suspects = first.Where(c => !c.Agrees).Select(c => c.Rollup).ToHashSet();
        var comparisons = first;
        if (suspects.Count > 0)
        {
            await Task.Delay(options.Value.ConsistencyRecheck, time, cancellationToken);
            if (await QuietLookAsync(tenantId, Rollups.Where(r => suspects.Contains(r.Source.WireName())).ToArray(), cancellationToken) is not { } again)
            {
                return [];
            }

            comparisons = [.. first.Where(c => c.Agrees), .. again];
            foreach (var mismatch in again.Where(c => !c.Agrees))
            {
                metrics.RollupMismatch(mismatch.Rollup);
                logger.LogError("Rollup {Rollup} disagrees with the raw rows for the operations tenant over {From:O}–{To:O}: raw {Raw}, rollup {RollupTotals}.",
                    mismatch.Rollup, mismatch.From, mismatch.To, mismatch.Raw, mismatch.Rolled);
            }
        }

        metrics.RollupCheck(comparisons.All(c => c.Agrees) ? "agree" : "mismatch");
        LastComparisons = comparisons;
        LastCheckedAt = time.GetUtcNow();
        return comparisons;
    }

    /// <summary>A comparison taken while the processor has nothing uncommitted before and after it (up to ten tries), or null.</summary>
    private async Task<List<RollupComparison>?> QuietLookAsync(string tenantId, (UsageSource Source, bool Hourly)[] rollups, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(options.Value.ConsistencyRecheck, time, cancellationToken);
            }

            var group = options.Value.ProcessorGroup;
            if ((await log.BacklogAsync(group, cancellationToken)).Pending > 0)
            {
                continue;
            }

            var look = await CompareAsync(tenantId, rollups, cancellationToken);
            if ((await log.BacklogAsync(group, cancellationToken)).Pending == 0)
            {
                return look;
            }
        }

        metrics.RollupCheck("inconclusive");
        logger.LogInformation("The rollup consistency check is inconclusive: the processor had a backlog at every try; it runs again in {Interval}.", options.Value.ConsistencyInterval);
        return null;
    }

    private async Task<List<RollupComparison>> CompareAsync(string tenantId, (UsageSource Source, bool Hourly)[] rollups, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var hourEnd = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(1);
        var dayEnd = new DateTimeOffset(now.Year, now.Month, now.Day, 0, 0, 0, TimeSpan.Zero).AddDays(1);
        var raws = new Dictionary<bool, UsageTotals>();
        var results = new List<RollupComparison>();
        foreach (var (source, hourly) in rollups)
        {
            var query = new BreakdownQuery { From = hourly ? hourEnd.AddHours(-48) : dayEnd.AddDays(-7), To = hourly ? hourEnd : dayEnd };
            if (!raws.TryGetValue(hourly, out var raw))
            {
                raw = raws[hourly] = (await usage.BreakdownAsync(tenantId, query with { Source = UsageSource.Raw }, cancellationToken)).Totals;
            }

            var rolled = (await usage.BreakdownAsync(tenantId, query with { Source = source }, cancellationToken)).Totals;
            results.Add(new(source.WireName(), query.From, query.To, raw, rolled));
        }

        return results;
    }
}
