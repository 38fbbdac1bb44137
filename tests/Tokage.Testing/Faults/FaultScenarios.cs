using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Tokage.Testing.Faults;

/// <summary>How hard the scenarios push: <see cref="Quick"/> for CI (seconds each), <see cref="Full"/> as the issue sets them.</summary>
public sealed record FaultIntensity(
    string Name, TrafficOptions Traffic, int ProcessorKills, TimeSpan BetweenKills, TimeSpan ClickHouseDown, TimeSpan RedisDown, int IngestionKills, TimeSpan PollInterval)
{
    public static FaultIntensity Quick { get; } = new(
        "quick", new TrafficOptions { Clients = 2, BatchSize = 50 }, 2, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(3), 1, TimeSpan.FromSeconds(7));

    public static FaultIntensity Full { get; } = new(
        "full", new TrafficOptions { Clients = 4, BatchSize = 100 }, 5, TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10), 3, TimeSpan.FromSeconds(10));

    /// <summary><c>TOKAGE_FAULTS=full</c> selects the full run; anything else the quick one.</summary>
    public static FaultIntensity FromEnvironment() =>
        string.Equals(Environment.GetEnvironmentVariable("TOKAGE_FAULTS"), "full", StringComparison.OrdinalIgnoreCase) ? Full : Quick;
}

/// <summary>
/// The fault-injection scenarios. Each runs clients against ingestion on a <see cref="ProcessingStack"/>, breaks
/// one part of it while they send, heals it, and ends with a <see cref="Reconciliation"/>. Each uses a tenant
/// of its own, so they can share one stack one after another; each leaves the stack whole.
/// </summary>
public sealed class FaultScenarios(ProcessingStack stack, FaultIntensity intensity)
{
    private static readonly TimeSpan SettleWithin = TimeSpan.FromMinutes(3);

    /// <summary>kill -9 of the event processor in the middle of the stream, several times, each followed by a restart.</summary>
    public async Task<FaultReport> ProcessorKilledAsync()
    {
        var (tenant, key) = await NewTenantAsync("processor-kills");
        await using var traffic = UsageTraffic.Start(() => stack.Ingestion.HttpUri, key, intensity.Traffic);
        for (var kill = 0; kill < intensity.ProcessorKills; kill++)
        {
            await Task.Delay(intensity.BetweenKills);
            await stack.KillProcessorAsync();
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            await stack.StartProcessorAsync();
        }

        await Task.Delay(intensity.BetweenKills);
        var result = await traffic.StopAsync();
        return await Reconciliation.ReconcileAsync(stack, "processor killed", $"kill -9 ×{intensity.ProcessorKills}, restart", tenant, result, "", SettleWithin);
    }

    /// <summary>ClickHouse taken away under load (SIGKILL), brought back on the same data after a while.</summary>
    public async Task<FaultReport> ClickHouseDownAsync()
    {
        var (tenant, key) = await NewTenantAsync("clickhouse-down");
        await using var traffic = UsageTraffic.Start(() => stack.Ingestion.HttpUri, key, intensity.Traffic);
        await traffic.WaitForAcknowledgedAsync(intensity.Traffic.BatchSize * 10, TimeSpan.FromSeconds(30));
        var processor = stack.Processor!;
        var logFrom = processor.Output.Length;
        await stack.StopClickHouseAsync();
        await Task.Delay(intensity.ClickHouseDown);
        var acknowledgedWhileDown = traffic.AcknowledgedCount;
        await stack.StartClickHouseAgainAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        var result = await traffic.StopAsync();
        var retries = processor.CountInOutput("is retried in", logFrom);
        return await Reconciliation.ReconcileAsync(stack, "ClickHouse down", $"stopped {intensity.ClickHouseDown.TotalSeconds:0} s under load", tenant, result,
            $"ingestion kept acknowledging ({acknowledgedWhileDown:N0} by the restart); processor backed off {retries}×", SettleWithin);
    }

    /// <summary>
    /// Redis (the log, the dedupe claims, the key cache) killed under load and restarted on its AOF. While it is
    /// down nothing is acknowledged and a key nobody issued is never admitted.
    /// </summary>
    public async Task<FaultReport> RedisRestartedAsync()
    {
        var (tenant, key) = await NewTenantAsync("redis-restart");
        await using var traffic = UsageTraffic.Start(() => stack.Ingestion.HttpUri, key, intensity.Traffic);
        await traffic.WaitForAcknowledgedAsync(intensity.Traffic.BatchSize * 10, TimeSpan.FromSeconds(30));
        await stack.Core.Redis.KillAsync();
        var probes = new List<HttpStatusCode>();
        var downUntil = DateTime.UtcNow + intensity.RedisDown;
        while (DateTime.UtcNow < downUntil)
        {
            probes.Add(await ProbeAsync($"tok_live_{Guid.NewGuid():N}"));
            probes.Add(await ProbeAsync(key));
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }

        await stack.Core.Redis.RestartAsync();
        await traffic.WaitForAcknowledgedAsync(traffic.AcknowledgedCount + intensity.Traffic.BatchSize * 10, TimeSpan.FromSeconds(60));
        var afterRestart = await ProbeAsync($"tok_live_{Guid.NewGuid():N}");
        var result = await traffic.StopAsync();
        var tally = string.Join(", ", probes.GroupBy(p => (int)p).OrderBy(g => g.Key).Select(g => $"{g.Key} ×{g.Count()}"));
        var report = await Reconciliation.ReconcileAsync(stack, "Redis restarted", $"kill -9, down {intensity.RedisDown.TotalSeconds:0} s, AOF restart", tenant, result,
            $"probes while down: {tally}; forged key after restart: {(int)afterRestart}", SettleWithin);
        var violations = new List<string>();
        if (probes.Count(status => status == HttpStatusCode.Accepted) is > 0 and var admitted)
        {
            violations.Add($"{admitted} probe(s) acknowledged while the log was down");
        }

        if (afterRestart != HttpStatusCode.Unauthorized)
        {
            violations.Add($"a forged key after the restart got {(int)afterRestart}, not 401");
        }

        return report with { Violations = violations };
    }

    /// <summary>Clients that time out early and resend whole batches, and that resend batches already acknowledged: duplicates by design.</summary>
    public async Task<FaultReport> ClientsRetryAsync()
    {
        var (tenant, key) = await NewTenantAsync("client-retries");
        var options = intensity.Traffic with { RequestTimeout = TimeSpan.FromMilliseconds(150), ResendEvery = 3 };
        await using var traffic = UsageTraffic.Start(() => stack.Ingestion.HttpUri, key, options);
        await Task.Delay(intensity.BetweenKills * 3);
        var result = await traffic.StopAsync();
        return await Reconciliation.ReconcileAsync(stack, "clients retry", "150 ms client timeout; every 3rd batch sent twice", tenant, result,
            $"{result.Resent:N0} acknowledged batches resent", SettleWithin);
    }

    /// <summary>kill -9 of ingestion with requests in flight; clients see errors or 202s and retry against the new instance.</summary>
    public async Task<FaultReport> IngestionKilledAsync()
    {
        var (tenant, key) = await NewTenantAsync("ingestion-kills");
        await using var traffic = UsageTraffic.Start(() => stack.Ingestion.HttpUri, key, intensity.Traffic);
        for (var kill = 0; kill < intensity.IngestionKills; kill++)
        {
            await traffic.WaitForAcknowledgedAsync(traffic.AcknowledgedCount + intensity.Traffic.BatchSize * 10, TimeSpan.FromSeconds(30));
            await stack.KillIngestionAsync();
            await stack.StartIngestionAgainAsync();
        }

        await traffic.WaitForAcknowledgedAsync(traffic.AcknowledgedCount + intensity.Traffic.BatchSize * 10, TimeSpan.FromSeconds(60));
        var result = await traffic.StopAsync();
        return await Reconciliation.ReconcileAsync(stack, "ingestion killed", $"kill -9 ×{intensity.IngestionKills} in flight, restart", tenant, result, "", SettleWithin);
    }

    /// <summary>
    /// On Kafka (librdkafka's mock cluster): ClickHouse down for longer than the consumer's <c>max.poll.interval.ms</c>.
    /// A consumer that stops polling while it retries the write is evicted from its group and its commits refused;
    /// the processor must keep its membership (and its partitions) and carry on once ClickHouse is back.
    /// </summary>
    public async Task<FaultReport> ClickHouseDownPastThePollIntervalOnKafkaAsync()
    {
        using var cluster = new KafkaMockCluster();
        var log = $"Transport=Kafka;BootstrapServers={cluster.BootstrapServers}";
        var ingestion = await stack.Core.StartIngestionAsync(log);
        var pollInterval = (int)intensity.PollInterval.TotalMilliseconds;
        var processor = await stack.StartAnotherProcessorAsync(new Dictionary<string, string>
        {
            ["ConnectionStrings__events"] = log,
            ["Tokage__Processor__ConsumerGroup"] = "event-processor-kafka",
            ["Tokage__Processor__ConsumerName"] = "processor-on-kafka",
            ["Tokage__EventLog__Consumer__max.poll.interval.ms"] = pollInterval.ToString(CultureInfo.InvariantCulture),
            ["Tokage__EventLog__Consumer__session.timeout.ms"] = (pollInterval - 1000).ToString(CultureInfo.InvariantCulture),
            ["Tokage__EventLog__Consumer__heartbeat.interval.ms"] = "500",
        });
        try
        {
            var (tenant, key) = await NewTenantAsync("clickhouse-down-kafka");
            await using var traffic = UsageTraffic.Start(() => ingestion.HttpUri, key, intensity.Traffic);
            await traffic.WaitForAcknowledgedAsync(intensity.Traffic.BatchSize * 10, TimeSpan.FromSeconds(30));
            var down = intensity.PollInterval * 2;
            await stack.StopClickHouseAsync();
            await Task.Delay(down);
            await stack.StartClickHouseAgainAsync();
            await Task.Delay(TimeSpan.FromSeconds(3));
            var result = await traffic.StopAsync();
            var report = await Reconciliation.ReconcileAsync(stack, "ClickHouse down past the poll interval (Kafka)",
                $"stopped {down.TotalSeconds:0} s, max.poll.interval.ms {pollInterval}", tenant, result,
                $"processor backed off {processor.CountInOutput("is retried in")}×", SettleWithin);
            var evicted = processor.CountInOutput("maximum poll interval");
            report = evicted == 0 ? report : report with { Violations = [$"the consumer was evicted from its group {evicted}× (max.poll.interval.ms exceeded)"] };
            return report.Clean ? report : report with { Notes = $"{report.Notes}; processor log: {KeepLog("clickhouse-down-kafka-processor", processor)}" };
        }
        finally
        {
            // Before the mock cluster goes: their clients would otherwise retry a vanished broker until the stack stops.
            await processor.KillAsync();
            await ingestion.KillAsync();
        }
    }

    /// <summary>
    /// On Kafka, the processor scaled out and in under load: a second processor joins the group mid-stream (the
    /// partitions are split between them), then the first is killed -9 (the second takes them all). Every event is
    /// stored once: a partition's new owner reads from the last commit, and ClickHouse already holds what the old
    /// owner wrote.
    /// </summary>
    public async Task<FaultReport> ProcessorsRebalancedOnKafkaAsync()
    {
        using var cluster = new KafkaMockCluster(partitions: 6);
        var log = $"Transport=Kafka;BootstrapServers={cluster.BootstrapServers}";

        var ingestion = await stack.Core.StartIngestionAsync(log);
        Task<ServiceProcess> ProcessorAsync(string name) => stack.StartAnotherProcessorAsync(new Dictionary<string, string>
        {
            ["ConnectionStrings__events"] = log,
            ["Tokage__Processor__ConsumerGroup"] = "event-processor-scaled",
            ["Tokage__Processor__ConsumerName"] = name,
            ["Tokage__EventLog__Consumer__session.timeout.ms"] = "6000",
            ["Tokage__EventLog__Consumer__heartbeat.interval.ms"] = "500",
        });
        var first = await ProcessorAsync("processor-a");
        ServiceProcess? second = null;
        try
        {
            var (tenant, key) = await NewTenantAsync("rebalanced-kafka");
            await using var traffic = UsageTraffic.Start(() => ingestion.HttpUri, key, intensity.Traffic);
            await traffic.WaitForAcknowledgedAsync(intensity.Traffic.BatchSize * 10, TimeSpan.FromSeconds(30));
            second = await ProcessorAsync("processor-b");
            await traffic.WaitForAcknowledgedAsync(traffic.AcknowledgedCount + intensity.Traffic.BatchSize * 20, TimeSpan.FromSeconds(60));
            await first.KillAsync();
            await traffic.WaitForAcknowledgedAsync(traffic.AcknowledgedCount + intensity.Traffic.BatchSize * 20, TimeSpan.FromSeconds(60));
            var result = await traffic.StopAsync();
            return await Reconciliation.ReconcileAsync(stack, "processors rebalanced (Kafka)", "6 partitions; a second processor joins mid-stream, then the first is killed -9",
                tenant, result, $"partitions not committed by a former owner: {first.CountInOutput("no longer assigned") + second.CountInOutput("no longer assigned")}", SettleWithin);
        }
        finally
        {
            await first.KillAsync();
            if (second is not null)
            {
                await second.KillAsync();
            }

            await ingestion.KillAsync();
        }
    }

    /// <summary>
    /// The dedupe claims lost (Redis without persistence, a failover) and the whole log read again from its start,
    /// with client resends among it: what ClickHouse holds, not what the claims remember, keeps the rollups exact.
    /// </summary>
    public async Task<FaultReport> ClaimsWipedAndLogReplayedAsync()
    {
        var (tenant, key) = await NewTenantAsync("claims-wiped");
        var options = intensity.Traffic with { ResendEvery = 3 };
        await using var traffic = UsageTraffic.Start(() => stack.Ingestion.HttpUri, key, options);
        await traffic.WaitForAcknowledgedAsync(intensity.Traffic.BatchSize * 10, TimeSpan.FromSeconds(30));
        var result = await traffic.StopAsync();
        await stack.WaitUntilLogConsumedAsync(SettleWithin);

        await stack.KillProcessorAsync();
        var wiped = await stack.WipeDedupeClaimsAsync();
        var replayed = await stack.ReplayLogFromStartAsync();
        await stack.StartProcessorAsync();
        await stack.WaitUntilLogConsumedAsync(SettleWithin);
        return await Reconciliation.ReconcileAsync(stack, "claims wiped, log replayed", "every dedupe claim deleted, consumer group reset to the log's start", tenant, result,
            $"{wiped:N0} claims deleted; {replayed:N0} log records read again; {result.Resent:N0} acknowledged batches resent", SettleWithin);
    }

    /// <summary>Every scenario, one after another.</summary>
    public async Task<IReadOnlyList<FaultReport>> AllAsync() =>
    [
        await ProcessorKilledAsync(),
        await ClickHouseDownAsync(),
        await RedisRestartedAsync(),
        await ClientsRetryAsync(),
        await IngestionKilledAsync(),
        await ClaimsWipedAndLogReplayedAsync(),
        await ClickHouseDownPastThePollIntervalOnKafkaAsync(),
        await ProcessorsRebalancedOnKafkaAsync(),
    ];

    /// <summary>Keeps a service's log beside the report, for a scenario that went wrong; answers where.</summary>
    private static string KeepLog(string name, ServiceProcess service)
    {
        var path = Path.Combine(TestAssets.Path("RepositoryRoot"), ".tokage", "faults", $"{name}.log");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, service.Output);
        return Path.GetRelativePath(TestAssets.Path("RepositoryRoot"), path);
    }

    private async Task<(string TenantId, string ApiKey)> NewTenantAsync(string scenario)
    {
        // A limit well above what the clients send: the scenarios measure faults, not the rate limiter.
        var tenant = await stack.Core.PostAsync("/v1/tenants", new
        {
            name = $"faults-{scenario}-{Guid.NewGuid():N}",
            rate_limit = new { events_per_second = 1_000_000, burst = 1_000_000 },
        });
        return ((string)tenant["tenant_id"]!, (string)tenant["api_key"]!);
    }

    /// <summary>One valid event with <paramref name="key"/>: what ingestion answers.</summary>
    private async Task<HttpStatusCode> ProbeAsync(string key)
    {
        using var http = new HttpClient { BaseAddress = stack.Ingestion.HttpUri, Timeout = TimeSpan.FromSeconds(20) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var body = UsageTraffic.EventJson($"probe-{Guid.NewGuid():N}", DateTimeOffset.UtcNow.AddSeconds(-5), new SentUsage(10, 1), "probe");
        try
        {
            using var response = await http.PostAsync("/v1/events", new StringContent(body, Encoding.UTF8, "application/json"));
            return response.StatusCode;
        }
        catch (TaskCanceledException)
        {
            return HttpStatusCode.RequestTimeout;
        }
    }

    public static string Markdown(IEnumerable<FaultReport> reports, FaultIntensity intensity)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Fault-injection run ({intensity.Name}), {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores");
        text.AppendLine();
        text.AppendLine(FaultReport.MarkdownHeader);
        foreach (var report in reports)
        {
            text.AppendLine(report.MarkdownRow);
        }

        return text.ToString();
    }
}
