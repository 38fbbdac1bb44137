namespace Tokage.SyntheticMonitor.Slo;

/// <summary>A burn-rate alert's state after an evaluation, and whether it just changed (the only time it is sent).</summary>
public sealed record BurnAlertState(string Name, bool Firing, bool Changed, decimal LongBurn, decimal ShortBurn, BurnAlertOptions Rule);

/// <summary>
/// The freshness SLO over the probes' outcomes: a probe is good when it was queryable within the threshold, bad when it
/// was later, or is still missing past the threshold; one still within the threshold is undecided and not counted. The
/// burn rate over a window is its bad fraction over the error budget (1 − objective); an alert fires when both of its
/// windows burn at its rate or more, and resolves when either stops.
/// </summary>
public sealed class FreshnessSlo(FreshnessSloOptions options)
{
    public const string FastBurn = "freshness_fast_burn";
    public const string SlowBurn = "freshness_slow_burn";

    private readonly object gate = new();
    private readonly Queue<(DateTimeOffset SentAt, bool Good)> decided = new();
    private readonly Dictionary<string, bool> firing = new() { [FastBurn] = false, [SlowBurn] = false };

    public FreshnessSloOptions Options => options;

    /// <summary>Records a decided probe (sent at <paramref name="sentAt"/>): good when queryable within the threshold.</summary>
    public void Record(DateTimeOffset sentAt, bool good)
    {
        lock (gate)
        {
            decided.Enqueue((sentAt, good));
        }
    }

    /// <summary>
    /// The burn rates of every window at <paramref name="now"/>, counting <paramref name="missingSince"/> (probes sent then,
    /// still not queryable) as bad once past the threshold, and the alerts' states.
    /// </summary>
    public (IReadOnlyDictionary<string, decimal> BurnRates, IReadOnlyList<BurnAlertState> Alerts) Evaluate(DateTimeOffset now, IReadOnlyCollection<DateTimeOffset> missingSince)
    {
        lock (gate)
        {
            var longest = new[] { options.Fast.LongWindow, options.Slow.LongWindow }.Max();
            while (decided.TryPeek(out var oldest) && oldest.SentAt < now - longest)
            {
                decided.Dequeue();
            }

            var burns = new Dictionary<string, decimal>();
            decimal Burn(TimeSpan window)
            {
                var since = now - window;
                var good = 0;
                var bad = 0;
                foreach (var (sentAt, isGood) in decided)
                {
                    if (sentAt >= since)
                    {
                        _ = isGood ? good++ : bad++;
                    }
                }

                bad += missingSince.Count(sentAt => sentAt >= since && now - sentAt > options.Threshold);
                var burn = good + bad == 0 ? 0m : (decimal)bad / (good + bad) / (1m - options.Objective);
                burns[Label(window)] = decimal.Round(burn, 4);
                return burn;
            }

            var alerts = new List<BurnAlertState>();
            foreach (var (name, rule) in new[] { (FastBurn, options.Fast), (SlowBurn, options.Slow) })
            {
                var (longBurn, shortBurn) = (Burn(rule.LongWindow), Burn(rule.ShortWindow));
                var nowFiring = longBurn >= rule.BurnRate && shortBurn >= rule.BurnRate;
                var changed = nowFiring != firing[name];
                firing[name] = nowFiring;
                alerts.Add(new(name, nowFiring, changed, decimal.Round(longBurn, 4), decimal.Round(shortBurn, 4), rule));
            }

            return (burns, alerts);
        }
    }

    /// <summary>A window as Prometheus writes durations: <c>5m</c>, <c>1h</c>, <c>90s</c>.</summary>
    public static string Label(TimeSpan window) =>
        window.TotalHours >= 1 && window.TotalHours == Math.Floor(window.TotalHours) ? $"{window.TotalHours:0}h"
        : window.TotalMinutes >= 1 && window.TotalMinutes == Math.Floor(window.TotalMinutes) ? $"{window.TotalMinutes:0}m"
        : $"{window.TotalSeconds:0}s";
}
