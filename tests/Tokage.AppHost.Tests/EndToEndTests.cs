using System.Net;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Tokage.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tokage.AppHost.Tests;

/// <summary>
/// The whole AppHost on local processes through Aspire.Hosting.Testing: every resource healthy, every
/// service answering /health and gRPC health, and no process left behind after stop.
/// </summary>
public class EndToEndTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    private const string Migrator = "database-migrator";

    [Fact]
    public async Task Every_resource_becomes_healthy_and_no_process_survives_stop()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(6));
        var cancellationToken = timeout.Token;
        var state = Directory.CreateTempSubdirectory("tokage-e2e-");
        // Temp directories are 0700; PostgreSQL's own user (when tests run as root) must reach its data
        // directory inside, so that it lives and is deleted with the rest of this run's state.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(state.FullName, (UnixFileMode)0b111_101_101);
        }

        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Tokage_AppHost>(
            ["Tokage:Engines=local", $"Tokage:StateDirectory={state.FullName}"], cancellationToken);
        var startLog = new StartLog();
        builder.Services.AddLogging(logging => logging.AddProvider(startLog));
        var app = await builder.BuildAsync(cancellationToken);
        var processes = new HashSet<int>();
        var started = DateTime.UtcNow;
        try
        {
            await app.StartAsync(cancellationToken);
            startLog.Watch(app, cancellationToken);

            var model = app.Services.GetRequiredService<DistributedApplicationModel>();
            // Parameters have no process, and resources started only on demand (Aspire's project rebuilders) never start here.
            var resources = model.Resources
                .Where(r => r is not ParameterResource && !r.Annotations.OfType<ExplicitStartupAnnotation>().Any())
                .Select(r => r.Name)
                .ToList();
            using (var startup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                startup.CancelAfter(StartTimeout);
                // The database migrator runs to completion (exit code 0); everything else becomes healthy.
                var migrated = app.ResourceNotifications.WaitForResourceAsync(
                    Migrator, e => e.Snapshot.State?.Text == KnownResourceStates.Finished, startup.Token);
                await Task.WhenAll(resources.Where(name => name != Migrator)
                    .Select(name => app.ResourceNotifications.WaitForResourceHealthyAsync(name, startup.Token)).Append(migrated));
                Assert.Equal(0, (await migrated).Snapshot.ExitCode);
            }

            var services = model.Resources.OfType<ProjectResource>().Where(p => p.Name is not ("analytics-host" or Migrator or "console")).ToList();
            Assert.Equal(9, services.Count);

            // The console is a web front end: its health on HTTP, and its sign-in page.
            using (var console = app.CreateHttpClient("console", "http"))
            {
                Assert.Equal("Healthy", await console.GetStringAsync("/health", cancellationToken));
                Assert.Contains("Sign in", await console.GetStringAsync("/sign-in", cancellationToken));
            }

            foreach (var service in services)
            {
                using var http = app.CreateHttpClient(service.Name, "http");
                using var response = await http.GetAsync("/health", cancellationToken);
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{service.Name} /health: {response.StatusCode}");
                Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(cancellationToken));

                // gRPC over h2c on the service's own gRPC endpoint proves the HTTP/2-only listener.
                using var channel = GrpcChannel.ForAddress(app.GetEndpoint(service.Name, "grpc"));
                var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), cancellationToken: cancellationToken);
                Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
            }

            // The local provider is what runs: Redis Streams carries the event log.
            Assert.StartsWith("Transport=RedisStreams;", await app.GetConnectionStringAsync("events", cancellationToken));

            // The CLI finds the admin token the AppHost wrote; the key it prints resolves through the auth service.
            var cli = await CliProcess.RunAsync(
                ["tenants", "create", "e2e-acme", "--json"],
                environment: new Dictionary<string, string?>
                {
                    ["TOKAGE_STATE_DIRECTORY"] = state.FullName,
                    ["TOKAGE_URL"] = app.GetEndpoint("control-plane", "http").ToString(),
                });
            Assert.True(cli.ExitCode == 0, cli.Stderr);
            var created = System.Text.Json.Nodes.JsonNode.Parse(cli.Stdout)!;
            using (var authChannel = GrpcChannel.ForAddress(app.GetEndpoint("auth", "grpc")))
            {
                var resolved = await new Tokage.Contracts.V1.AuthService.AuthServiceClient(authChannel).ResolveKeyAsync(
                    new Tokage.Contracts.V1.ResolveKeyRequest { Key = (string)created["api_key"]! }, cancellationToken: cancellationToken);
                Assert.Equal((string)created["tenant_id"]!, resolved.TenantId);
            }

            // An event through the front door is priced by the processor and its status served by the query API.
            var apiKey = (string)created["api_key"]!;
            var eventId = "e2e-" + Guid.NewGuid().ToString("N");
            using (var ingest = app.CreateHttpClient("ingestion", "http"))
            using (var query = app.CreateHttpClient("query-api", "http"))
            {
                ingest.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
                query.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
                using var accepted = await ingest.PostAsync("/v1/events", new StringContent(
                    $$$"""{"event_id":"{{{eventId}}}","timestamp":"{{{DateTimeOffset.UtcNow.AddSeconds(-1):O}}}","provider":"openai","model":"gpt-4o","usage":{"input_tokens":1000,"output_tokens":100}}""",
                    System.Text.Encoding.UTF8, "application/json"), cancellationToken);
                Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);

                System.Text.Json.Nodes.JsonNode? status = null;
                await ControlPlaneStack.EventuallyAsync(async () =>
                {
                    using var response = await query.GetAsync($"/v1/events/{eventId}", cancellationToken);
                    status = response.IsSuccessStatusCode ? System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken)) : null;
                    return (string?)status?["status"] == "processed";
                }, TimeSpan.FromSeconds(60), "the event is processed");
                Assert.True((bool)status!["processed"]!["priced"]!);
                Assert.Equal("gpt-4o", (string)status["processed"]!["priced_model"]!);

                await BillsAnIngestedEventAsync(app, state.FullName, (string)created["tenant_id"]!, ingest, query, cancellationToken);
            }

            await EveryServiceExposesItsMetricsAsync(app, services.Select(s => s.Name).Append("console").ToList(), cancellationToken);
            await EveryHttpApiDescribesItselfAsync(app, cancellationToken);

            foreach (var name in resources)
            {
                if (app.ResourceNotifications.TryGetCurrentState(name, out var current))
                {
                    foreach (var property in current.Snapshot.Properties.Where(p => p.Name.EndsWith(".pid", StringComparison.Ordinal)))
                    {
                        if (int.TryParse(Convert.ToString(property.Value), out var pid))
                        {
                            processes.Add(pid);
                        }
                    }
                }
            }

            // A clean first screen: in its first two minutes no resource and not the AppHost logs an error, and the
            // AppHost warns of nothing a newcomer cannot act on (the development certificate, above all).
            var firstMinutes = started + TimeSpan.FromMinutes(2) - DateTime.UtcNow;
            if (firstMinutes > TimeSpan.Zero)
            {
                await Task.Delay(firstMinutes, cancellationToken);
            }

            Assert.True(startLog.Seen.GetValueOrDefault("postgres") > 0 && startLog.Seen.GetValueOrDefault("control-plane") > 0,
                "the resources' logs were not read: " + string.Join(", ", startLog.Seen.Select(s => $"{s.Key} {s.Value}")));
            Assert.True(startLog.Problems.IsEmpty, "logged in the first two minutes:\n" + string.Join('\n', startLog.Problems));

            Assert.Contains(processes, pid => ProcessTable.CommandLine(pid).Contains("redis-server"));
            processes.UnionWith(processes.SelectMany(ProcessTable.Descendants).ToList());
            processes.UnionWith(ProcessTable.WithCommandLineContaining(state.FullName));
            Assert.Contains(processes, pid => ProcessTable.CommandLine(pid).Contains("postgres"));
            Assert.Contains(processes, pid => ProcessTable.CommandLine(pid).Contains("Tokage.ClickHouseLocal"));
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (processes.Any(ProcessTable.IsAlive) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250, CancellationToken.None);
        }

        var survivors = processes.Where(ProcessTable.IsAlive).Select(pid => $"{pid}: {ProcessTable.CommandLine(pid)}").ToList();
        Assert.True(survivors.Count == 0, "still running after stop:\n" + string.Join('\n', survivors));
        state.Delete(recursive: true);
    }

    /// <summary>
    /// An event naming a customer, ingested with a timestamp in a period that has ended, is priced by the processor and
    /// billed on an issued invoice by the billing pipeline: base fee, its tokens, and its server-side cost marked up.
    /// </summary>
    /// <summary>
    /// <c>/metrics</c> of every service parses as Prometheus' text format and carries its request series; those the
    /// event above went through carry theirs (ingest accepted and its log append, key-cache lookups, the processor's
    /// records, batch sizes and ClickHouse insert time).
    /// </summary>
    private static async Task EveryServiceExposesItsMetricsAsync(DistributedApplication app, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        var expected = new Dictionary<string, string[]>
        {
            ["ingestion"] = ["tokage_ingest_events_total", "tokage_ingest_log_append_duration_seconds_bucket", "tokage_apikeys_cache_lookups_total"],
            ["event-processor"] = ["tokage_processor_records_total", "tokage_processor_batch_size_bucket", "tokage_clickhouse_insert_duration_seconds_bucket"],
            ["query-api"] = ["tokage_apikeys_cache_lookups_total"],
        };
        foreach (var name in names)
        {
            using var http = app.CreateHttpClient(name, "http");
            var text = await http.GetStringAsync("/metrics", cancellationToken);
            var series = PrometheusText.Parse(text).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
            Assert.True(series.Contains("http_server_request_duration_seconds_bucket"), $"{name}: no request series in /metrics");
            foreach (var wanted in expected.GetValueOrDefault(name) ?? [])
            {
                Assert.True(series.Contains(wanted), $"{name}: no {wanted} in /metrics");
            }
        }

        // The accepted event is counted with its outcome.
        using var ingestion = app.CreateHttpClient("ingestion", "http");
        var accepted = PrometheusText.Parse(await ingestion.GetStringAsync("/metrics", cancellationToken))
            .Where(s => s.Name == "tokage_ingest_events_total" && s.Labels.GetValueOrDefault("outcome") == "accepted").Sum(s => s.Value);
        Assert.True(accepted >= 1, $"accepted events counted: {accepted}");

        // The synthetic monitor (port 8099) has probed all four public paths through to the query API.
        using var monitor = app.CreateHttpClient("synthetic-monitor", "http");
        var paths = new[] { "native_http", "native_grpc", "otlp_http", "otlp_grpc" };
        var fresh = new HashSet<string>();
        for (var attempt = 0; attempt < 90 && fresh.Count < paths.Length; attempt++)
        {
            fresh = PrometheusText.Parse(await monitor.GetStringAsync("/metrics", cancellationToken))
                .Where(s => s.Name == "tokage_probe_freshness_seconds_count" && s.Value >= 1).Select(s => s.Labels["path"]).ToHashSet();
            if (fresh.Count < paths.Length)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }

        Assert.True(paths.All(fresh.Contains), $"fresh probes on: {string.Join(", ", fresh)}");
    }

    /// <summary>Each HTTP API serves its OpenAPI document, naming its own routes.</summary>
    private static async Task EveryHttpApiDescribesItselfAsync(DistributedApplication app, CancellationToken cancellationToken)
    {
        var routes = new Dictionary<string, string>
        {
            ["ingestion"] = "/v1/events", ["control-plane"] = "/v1/tenants/{tenant}/keys", ["query-api"] = "/v1/usage/breakdown",
            ["price-registry"] = "/v1/prices", ["billing-pipeline"] = "/v1/customers", ["audit-log"] = "/v1/audit/verify",
        };
        foreach (var (service, route) in routes)
        {
            using var http = app.CreateHttpClient(service, "http");
            using var response = await http.GetAsync("/openapi/v1.json", cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            Assert.True(response.IsSuccessStatusCode, $"{service} /openapi/v1.json: {(int)response.StatusCode} {text}");
            var paths = System.Text.Json.Nodes.JsonNode.Parse(text)!["paths"]!.AsObject();
            Assert.True(paths.Any(p => p.Key.StartsWith(route, StringComparison.Ordinal)), $"{service}: no {route} in its OpenAPI document ({string.Join(", ", paths.Select(p => p.Key).Take(20))})");
        }
    }

    private static async Task BillsAnIngestedEventAsync(DistributedApplication app, string stateDirectory, string tenantId, HttpClient ingest, HttpClient query, CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        // One period from ten days ago to two days ago has ended; the event sits in it (ingest takes events 35 days old).
        var (start, anchor, at) = (today.AddDays(-10), today.AddDays(-2).Day, today.AddDays(-5).ToDateTime(new TimeOnly(12, 0), DateTimeKind.Utc));
        var eventId = "e2e-bill-" + Guid.NewGuid().ToString("N");
        using (var accepted = await ingest.PostAsync("/v1/events", new StringContent(
            $$$"""{"event_id":"{{{eventId}}}","timestamp":"{{{at:O}}}","provider":"openai","model":"gpt-4o","customer":"e2e-customer","usage":{"input_tokens":2000,"output_tokens":100}}""",
            System.Text.Encoding.UTF8, "application/json"), cancellationToken))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        string? cost = null;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            using var response = await query.GetAsync($"/v1/events/{eventId}", cancellationToken);
            var status = response.IsSuccessStatusCode ? System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken)) : null;
            cost = (string?)status?["processed"]?["cost_usd"];
            return cost is not null;
        }, TimeSpan.FromSeconds(60), "the billed event is processed");

        var environment = new Dictionary<string, string?>
        {
            ["TOKAGE_STATE_DIRECTORY"] = stateDirectory,
            ["TOKAGE_URL"] = app.GetEndpoint("control-plane", "http").ToString(),
            ["TOKAGE_BILLING_URL"] = app.GetEndpoint("billing-pipeline", "http").ToString(),
        };
        async Task<System.Text.Json.Nodes.JsonNode> Cli(params string[] arguments)
        {
            var result = await CliProcess.RunAsync([.. arguments, "--tenant", "e2e-acme", "--json"], environment: environment);
            Assert.True(result.ExitCode == 0, $"tokage {string.Join(' ', arguments)}: {result.Stderr}");
            return System.Text.Json.Nodes.JsonNode.Parse(result.Stdout)!;
        }

        var planFile = Path.Combine(stateDirectory, "plan.json");
        await File.WriteAllTextAsync(planFile, """
            {"key": "e2e", "base_fee_usd": "5", "charges": [
              {"key": "input", "meter": "input_tokens", "price_model": "per_unit", "unit_price_usd": "1000", "per_units": 1000000},
              {"key": "resale", "meter": "cost_usd", "price_model": "markup", "markup_percent": "100"}]}
            """, cancellationToken);
        await Cli("customers", "create", "e2e-customer", "--name", "E2E Customer");
        await Cli("plans", "create", "--file", planFile);
        await Cli("subscriptions", "create", "--customer", "e2e-customer", "--plan", "e2e", "--start-date", start.ToString("yyyy-MM-dd"), "--anchor-day", anchor.ToString());

        // The default grace (24 h) would hold the invoice as a draft until tomorrow: the operator shortens it.
        using (var billing = app.CreateHttpClient("billing-pipeline", "http"))
        {
            billing.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(Path.Combine(stateDirectory, "secrets", "admin-token"), cancellationToken)).Trim());
            using var settings = await billing.PatchAsync($"/v1/billing/settings?tenant={tenantId}", new StringContent("""{"grace_hours": 0}""", System.Text.Encoding.UTF8, "application/json"), cancellationToken);
            Assert.Equal(HttpStatusCode.OK, settings.StatusCode);
        }

        await Cli("invoices", "run");
        var invoice = Assert.Single((await Cli("invoices", "list", "--status", "issued"))["invoices"]!.AsArray())!;
        Assert.Equal((start.ToString("yyyy-MM-dd"), today.AddDays(-2).ToString("yyyy-MM-dd")), ((string)invoice["period_start"]!, (string)invoice["period_end"]!));
        var lines = invoice["lines"]!.AsArray().ToDictionary(l => (string?)l!["charge"] ?? (string)l!["kind"]!, l => l!);
        Assert.Equal("2.00", (string)lines["input"]["amount_usd"]!); // 2,000 tokens at $1,000 per million
        Assert.Equal(decimal.Parse(cost!, System.Globalization.CultureInfo.InvariantCulture) * 2, decimal.Parse((string)lines["resale"]["amount_unrounded_usd"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1L, (long)invoice["number"]!);
    }
}

/// <summary>
/// What a newcomer would see as trouble on a fresh start: the AppHost's own warnings and errors (through a logger
/// provider), and every resource's console lines at error level — .NET's <c>fail:</c>/<c>crit:</c>, PostgreSQL's
/// <c>ERROR</c>/<c>FATAL</c>/<c>PANIC</c>, Redis's <c># WARNING</c>.
/// </summary>
internal sealed partial class StartLog : ILoggerProvider
{
    public System.Collections.Concurrent.ConcurrentQueue<string> Problems { get; } = new();

    /// <summary>Lines read per resource: proof the watch sees the resources' output at all.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, int> Seen { get; } = new();

    public void Watch(DistributedApplication app, CancellationToken cancellationToken)
    {
        var logs = app.Services.GetRequiredService<ResourceLoggerService>();
        foreach (var resource in app.Services.GetRequiredService<DistributedApplicationModel>().Resources)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    // By resource, not name: the logs live under the resource's instance (e.g. postgres-abcd1234).
                    await foreach (var batch in logs.WatchAsync(resource).WithCancellation(cancellationToken))
                    {
                        Seen.AddOrUpdate(resource.Name, batch.Count, (_, n) => n + batch.Count);
                        foreach (var line in batch.Where(l => ErrorLine().IsMatch(l.Content) && !ActionableByTheMachine().IsMatch(l.Content)))
                        {
                            Problems.Enqueue($"{resource.Name}: {line.Content}");
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                }
            }, CancellationToken.None);
        }
    }

    public ILogger CreateLogger(string categoryName) => new Collector(this, categoryName);

    public void Dispose()
    {
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*(fail|crit):|\b(ERROR|FATAL|PANIC):|# WARNING")]
    private static partial System.Text.RegularExpressions.Regex ErrorLine();

    // A warning about the machine that says how to fix it (redis-server on a host without vm.overcommit_memory = 1;
    // the README's "Running locally" notes it): actionable, and no test machine may change the kernel's settings.
    [System.Text.RegularExpressions.GeneratedRegex(@"# WARNING Memory overcommit must be enabled")]
    private static partial System.Text.RegularExpressions.Regex ActionableByTheMachine();

    private sealed class Collector(StartLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                log.Problems.Enqueue($"AppHost {logLevel} {category}: {formatter(state, exception)}");
            }
        }
    }
}

/// <summary>Reads Linux's /proc: the processes a resource started and whether they are gone.</summary>
internal static class ProcessTable
{
    public static bool IsAlive(int pid)
    {
        var stat = Stat(pid);
        // A zombie has exited; it only waits for its parent to read its status.
        return stat is not null && stat.State != 'Z';
    }

    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    public static IEnumerable<int> Descendants(int root)
    {
        var children = All().Where(p => p.ParentId == root).Select(p => p.Id).ToList();
        return children.Concat(children.SelectMany(Descendants));
    }

    public static IEnumerable<int> WithCommandLineContaining(string text) =>
        All().Select(p => p.Id).Where(pid => CommandLine(pid).Contains(text, StringComparison.Ordinal));

    private sealed record Entry(int Id, int ParentId, char State);

    private static IEnumerable<Entry> All() =>
        Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Select(name => int.TryParse(name, out var pid) ? Stat(pid) : null)
            .OfType<Entry>()
            .ToList();

    private static Entry? Stat(int pid)
    {
        try
        {
            // Format: pid (comm) state ppid …; comm may contain spaces and parentheses.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var afterName = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return new Entry(pid, int.Parse(afterName[1]), afterName[0][0]);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
