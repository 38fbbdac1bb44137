using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Tokage.Testing;

namespace Tokage.AppHost.Tests;

/// <summary>
/// The committed Prometheus alert rules and Grafana dashboard (monitoring/), checked by Prometheus' own promtool
/// (Debian's prometheus package, installed by the set-up): the rules load, their unit tests pass (each alert fires on
/// the series that should fire it and not on healthy ones), and every dashboard query is valid PromQL over the series
/// the services serve.
/// </summary>
public sealed class MonitoringTests
{
    private static readonly string Monitoring = Path.Combine(TestAssets.Path("RepositoryRoot"), "monitoring");

    [Fact]
    public async Task TheAlertRulesLoadAndTheirUnitTestsPass()
    {
        var rules = Path.Combine(Monitoring, "prometheus");
        var check = await PromtoolAsync(rules, "check", "rules", "tokage-alerts.yml");
        Assert.True(check.ExitCode == 0, check.Output);
        Assert.Contains("SUCCESS", check.Output, StringComparison.Ordinal);
        var test = await PromtoolAsync(rules, "test", "rules", "tokage-alerts.test.yml");
        Assert.True(test.ExitCode == 0, test.Output);
    }

    [Fact]
    public async Task EveryDashboardQueryIsValidPromQlOverTokagesSeries()
    {
        var dashboard = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Monitoring, "grafana", "tokage-services.json")))!;
        var expressions = dashboard["panels"]!.AsArray().SelectMany(p => p!["targets"]!.AsArray()).Select(t => (string)t!["expr"]!).ToList();
        Assert.NotEmpty(expressions);

        // promtool checks PromQL in rule files: each query becomes a recording rule of a throwaway file.
        var file = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        for (var i = 0; i < expressions.Count; i++)
        {
            file.Append($"      - record: dashboard:query{i}\n        expr: {JsonValue.Create(expressions[i])!.ToJsonString()}\n");
        }

        var directory = Directory.CreateTempSubdirectory("tokage-dashboard-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory.FullName, "dashboard.yml"), file.ToString());
            var check = await PromtoolAsync(directory.FullName, "check", "rules", "dashboard.yml");
            Assert.True(check.ExitCode == 0, check.Output);
            Assert.Contains($"SUCCESS: {expressions.Count} rules found", check.Output, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }

        // Every series a panel reads is one the services serve (the names the README lists).
        string[] served =
        [
            "up", "http_server_request_duration_seconds", "tokage_ingest_events_total", "tokage_ingest_log_append_duration_seconds",
            "tokage_processor_records_total", "tokage_processor_batch_size", "tokage_clickhouse_insert_duration_seconds",
            "tokage_processor_quarantined_total", "tokage_processor_dead_lettered_total", "tokage_apikeys_cache_lookups_total",
            "tokage_budget_alerts_total", "tokage_webhook_attempts_total",
            // The synthetic monitor's.
            "tokage_probe_freshness_seconds", "tokage_probe_ingest_seconds", "tokage_probe_lost_total", "tokage_probe_price_mismatch_total",
            "tokage_rollup_mismatch_total", "tokage_slo_freshness_burn_rate", "tokage_processor_lag_events", "tokage_processor_oldest_pending_age_seconds",
            "tokage_dead_letter_events",
        ];
        foreach (var expression in expressions)
        {
            var names = System.Text.RegularExpressions.Regex.Matches(expression, @"\b(up|http_[a-z_]+|tokage_[a-z_]+)(?=[{\[])").Select(m => m.Groups[1].Value);
            Assert.All(names, name => Assert.Contains(served, s => name == s || name.StartsWith(s + "_", StringComparison.Ordinal)));
        }
    }

    private static async Task<(int ExitCode, string Output)> PromtoolAsync(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("promtool") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }
}
