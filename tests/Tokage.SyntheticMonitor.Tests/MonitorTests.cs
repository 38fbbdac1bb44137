using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tokage.Webhooks;

namespace Tokage.SyntheticMonitor.Tests;

/// <summary>
/// The synthetic monitor against the real services and engines: probes through all four public paths become fresh,
/// priced, OPS-classified and visible to no other tenant; a stopped processor or ClickHouse shows as lag and fires the
/// fast freshness burn alert once (signed), which resolves once the outage ends; a tampered rollup is caught.
/// </summary>
public sealed class MonitorTests(MonitorStack monitor) : IClassFixture<MonitorStack>
{
    private static readonly string[] Paths = ["native_http", "native_grpc", "otlp_http", "otlp_grpc"];

    [Fact]
    public async Task ProbesOnAllFourPathsArePricedQueryableAndOpsOnlyAndATamperedRollupIsCounted()
    {
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            foreach (var path in Paths)
            {
                if (await monitor.ValueAsync("tokage_probe_freshness_seconds_count", ("path", path)) < 2)
                {
                    return false;
                }
            }

            return true;
        }, TimeSpan.FromSeconds(90), "two probes on each path are priced and queryable");

        foreach (var path in Paths)
        {
            Assert.True(await monitor.ValueAsync("tokage_probe_sent_total", ("path", path), ("outcome", "accepted")) >= 2);
            Assert.True(await monitor.ValueAsync("tokage_probe_ingest_seconds_count", ("path", path)) >= 2);
        }

        Assert.Equal(0, await monitor.ValueAsync("tokage_probe_price_mismatch_total"));
        Assert.Equal(0, await monitor.ValueAsync("tokage_probe_lost_total"));
        using var http = new HttpClient { BaseAddress = monitor.Monitor.HttpUri };
        var status = await http.GetFromJsonAsync<JsonObject>("/v1/monitor/status");
        Assert.All(status!["paths"]!.AsArray(), p => Assert.NotNull(p!["last_freshness_seconds"]));

        // Every probe is the operations tenant's, classified OPS; no other tenant has any of them.
        var ops = (string)(await monitor.Stack.Core.GetAsync("/v1/tenants/tokage-operations"))["tenant_id"]!;
        Assert.True(await monitor.Stack.CountAsync("SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", ops) >= 8);
        Assert.Equal(0ul, await monitor.Stack.CountAsync("SELECT countIf(classification != 'OPS') FROM usage_events WHERE tenant_id = {tenant:String}", ops));
        Assert.Equal(0ul, await monitor.Stack.CountAsync(
            "SELECT count() FROM usage_events WHERE tenant_id != {tenant:String} AND (application = 'synthetic-monitor' OR mapContains(metadata, 'tokage.synthetic'))", ops));
        var other = await monitor.Stack.Core.CreateTenantAsync("monitor-neighbour");
        using (var neighbour = ProcessingStack.ClientFor(monitor.Stack.QueryApi, (string)other["api_key"]!))
        {
            var today = DateTimeOffset.UtcNow.Date;
            var breakdown = await neighbour.GetFromJsonAsync<JsonObject>($"/v1/usage/breakdown?from={today:yyyy-MM-dd}T00:00:00Z&to={today.AddDays(1):yyyy-MM-dd}T00:00:00Z");
            Assert.Equal(0, (int)breakdown!["totals"]!["events"]!);
        }

        // The rollups agree with the raw rows until one is tampered with; then that one (and only it) is counted.
        JsonObject? last = null;
        for (var waited = 0; waited < 60; waited++)
        {
            last = (await http.GetFromJsonAsync<JsonObject>("/v1/monitor/status"))!;
            if (last["rollups"]!["comparisons"]!.AsArray().Count(c => (bool)c!["agrees"]! && (ulong)c["raw_events"]! > 0) >= 5)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        Assert.True(last!["rollups"]!["comparisons"]!.AsArray().Count(c => (bool)c!["agrees"]!) >= 5, $"every rollup agrees with the raw rows: {last["rollups"]}");
        Assert.True(0 == await monitor.ValueAsync("tokage_rollup_mismatch_total"), $"no mismatch before the tampering: {last["rollups"]}");
        await monitor.Stack.Analytics.ExecuteNonQueryAsync(
            $"INSERT INTO usage_daily_compact (tenant_id, day, provider, model, events, input_tokens, cost_usd) VALUES ('{ops}', today() - 1, 'openai', 'gpt-4o-mini', 1, 1000, 0.00015)");
        await ControlPlaneStack.EventuallyAsync(async () => await monitor.ValueAsync("tokage_rollup_mismatch_total", ("rollup", "daily_compact")) >= 1,
            TimeSpan.FromSeconds(90), "the tampered daily_compact rollup is counted");
        Assert.Equal(0, (await monitor.MetricsAsync()).Where(s => s.Name == "tokage_rollup_mismatch_total" && s.Labels["rollup"] != "daily_compact").Sum(s => s.Value));
    }

    /// <summary>
    /// An outage of either the processor (kill -9) or ClickHouse (kill -9 of the host): the monitor sees the processor's lag
    /// grow, fires the fast burn alert once (signed), and sends its resolution once after the outage ends.
    /// </summary>
    [Theory]
    [InlineData("processor")]
    [InlineData("clickhouse")]
    public async Task AnOutageShowsAsLagAndFiresTheFastBurnAlertOnceWhichResolvesWhenItEnds(string outage)
    {
        await ControlPlaneStack.EventuallyAsync(async () => await monitor.ValueAsync("tokage_probe_freshness_seconds_count") >= 16,
            TimeSpan.FromSeconds(90), "probes are flowing");
        // A cold start (or the previous outage) may have fired and resolved already: this test counts what follows its own outage.
        await ControlPlaneStack.EventuallyAsync(async () => await monitor.ValueAsync("tokage_slo_alert_firing", ("alert", "freshness_fast_burn")) == 0
            && FastBurn().Count % 2 == 0, TimeSpan.FromSeconds(60), "the fast burn alert is quiet");
        var before = FastBurn().Count;

        await (outage == "processor" ? monitor.Stack.KillProcessorAsync() : monitor.Stack.StopClickHouseAsync());
        try
        {
            await ControlPlaneStack.EventuallyAsync(async () => await monitor.ValueAsync("tokage_processor_lag_events") > 0,
                TimeSpan.FromSeconds(30), "the monitor sees the processor's lag");
            await ControlPlaneStack.EventuallyAsync(() => Task.FromResult(FastBurn().Count > before), TimeSpan.FromSeconds(60), "the fast burn alert fires");
            Assert.True(await monitor.ValueAsync("tokage_processor_oldest_pending_age_seconds") > 0);
        }
        finally
        {
            await (outage == "processor" ? monitor.Stack.StartProcessorAsync() : monitor.Stack.StartClickHouseAgainAsync());
        }

        await ControlPlaneStack.EventuallyAsync(() => Task.FromResult(FastBurn().Skip(before).Any(a => (string)a["status"]! == "resolved")), TimeSpan.FromSeconds(90),
            "the fast burn alert resolves once the outage is over");
        var sent = FastBurn().Skip(before).ToList();
        Assert.Equal(["firing", "resolved"], sent.Select(a => (string)a["status"]!));
        Assert.True(decimal.Parse((string)sent[0]["short_window_burn_rate"]!, System.Globalization.CultureInfo.InvariantCulture) >= 14.4m);
        Assert.All(monitor.Alerts, a => Assert.True(WebhookSignature.Verify(MonitorStack.AlertSecret, a.Signature, a.Body)));
        await ControlPlaneStack.EventuallyAsync(async () => await monitor.ValueAsync("tokage_processor_lag_events") == 0,
            TimeSpan.FromSeconds(60), "the lag is gone");
    }

    private List<JsonNode> FastBurn() =>
        [.. monitor.Alerts.Select(a => JsonNode.Parse(a.Body)!).Where(a => (string?)a["alert"] == "freshness_fast_burn")];
}
