using Tokage.SyntheticMonitor;
using Tokage.SyntheticMonitor.Slo;

namespace Tokage.SyntheticMonitor.Tests;

/// <summary>The burn-rate arithmetic and the alert's transitions, on a clock the test moves.</summary>
public sealed class FreshnessSloTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void TheFastAlertFiresOnceWhenBothWindowsBurnAt14Point4AndResolvesWhenTheShortOneStops()
    {
        var slo = new FreshnessSlo(new FreshnessSloOptions());
        // An hour of good probes, one a minute: nothing burns.
        for (var minute = 0; minute < 60; minute++)
        {
            slo.Record(Start.AddMinutes(minute), good: true);
        }

        var (burns, alerts) = slo.Evaluate(Start.AddMinutes(60), []);
        Assert.Equal(0m, burns["1h"]);
        Assert.All(alerts, a => Assert.False(a.Firing || a.Changed));

        // Eight bad minutes: at 68 min the hour [8, 68) holds 52 good and 8 bad (13.3 %: 13.33×, under 14.4×), no alert.
        for (var minute = 60; minute < 68; minute++)
        {
            slo.Record(Start.AddMinutes(minute), good: false);
        }

        var notYet = slo.Evaluate(Start.AddMinutes(68), []).Alerts.Single(a => a.Name == FreshnessSlo.FastBurn);
        Assert.False(notYet.Firing);
        Assert.Equal(13.3333m, notYet.LongBurn);

        // A probe still missing past the 5 s threshold counts as bad before any answer: 9 of 60 (15×) and the 5 minutes all bad.
        var fired = slo.Evaluate(Start.AddMinutes(68).AddSeconds(6), [Start.AddMinutes(68)]).Alerts.Single(a => a.Name == FreshnessSlo.FastBurn);
        Assert.True(fired is { Firing: true, Changed: true });
        Assert.Equal((15m, 100m), (fired.LongBurn, fired.ShortBurn));

        // Still burning: firing, but no change to send again.
        var still = slo.Evaluate(Start.AddMinutes(68).AddSeconds(7), [Start.AddMinutes(68)]).Alerts.Single(a => a.Name == FreshnessSlo.FastBurn);
        Assert.True(still is { Firing: true, Changed: false });

        // Good minutes from 69 on empty the 5-minute window of bad probes: resolved, once.
        for (var minute = 69; minute < 75; minute++)
        {
            slo.Record(Start.AddMinutes(minute), good: true);
        }

        var resolved = slo.Evaluate(Start.AddMinutes(74).AddSeconds(1), []).Alerts.Single(a => a.Name == FreshnessSlo.FastBurn);
        Assert.True(resolved is { Firing: false, Changed: true });
        Assert.Equal(0m, resolved.ShortBurn);
    }

    [Fact]
    public void AProbeStillWithinTheThresholdIsUndecidedAndOutcomesOlderThanTheLongestWindowAreForgotten()
    {
        var slo = new FreshnessSlo(new FreshnessSloOptions());
        slo.Record(Start, good: false);
        var (burns, _) = slo.Evaluate(Start.AddSeconds(10), [Start.AddSeconds(8)]);
        // One bad of one decided (the missing one is 2 s old): 100 % bad = 100× the 1 % budget.
        Assert.Equal(100m, burns["5m"]);
        var later = slo.Evaluate(Start.AddHours(7), []).BurnRates;
        Assert.All(later.Values, burn => Assert.Equal(0m, burn));
    }
}
