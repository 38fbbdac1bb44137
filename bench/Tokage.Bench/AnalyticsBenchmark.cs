using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Utility;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tokage.Analytics;
using Tokage.Analytics.Schema;
using Tokage.ClickHouseLocal;
using Tokage.Testing;

namespace Tokage.Bench;

/// <summary>
/// The usage store: bulk insert through the writer, driver and ClickHouse-local host beside a raw chDB insert of
/// the same rows in this process (the ratio is the host's and driver's overhead); a tenant-scoped
/// five-aggregate GROUP BY over generated history through the host beside the same SQL on raw chDB. Breakdowns
/// from the rollups are the <c>query</c> scenario's.
/// </summary>
internal static class AnalyticsBenchmark
{
    private static readonly DateTime HistoryStart = SyntheticHistory.Start;

    public static Command CreateCommand()
    {
        var rows = new Option<int>("--rows") { Description = "Rows of the bulk insert.", DefaultValueFactory = _ => 1_000_000 };
        var queryRows = new Option<int>("--query-rows") { Description = "Rows of generated history the queries read.", DefaultValueFactory = _ => 10_000_000 };
        var tenants = new Option<int>("--tenants") { Description = "Tenants the history is spread over (queries read one).", DefaultValueFactory = _ => 20 };
        var rounds = new Option<int>("--rounds") { Description = "Insert rounds (median reported).", DefaultValueFactory = _ => 3 };
        var queries = new Option<int>("--queries") { Description = "Timed runs of each query.", DefaultValueFactory = _ => 30 };
        var quick = new Option<bool>("--quick") { Description = "Small sizes (50k insert, 500k history, 1 round, 10 queries): a smoke run, well under 2 minutes." };
        var json = new Option<string>("--json") { Description = "Where the JSON report goes.", DefaultValueFactory = _ => ".tokage/bench/analytics.json" };
        var command = new Command("analytics", "Usage store: insert throughput and query latency on the ClickHouse-local host, against raw chDB in the same run.")
        {
            rows, queryRows, tenants, rounds, queries, quick, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var isQuick = parse.GetValue(quick);
            var settings = new Settings(
                isQuick ? 50_000 : parse.GetValue(rows),
                isQuick ? 500_000 : parse.GetValue(queryRows),
                parse.GetValue(tenants),
                isQuick ? 1 : parse.GetValue(rounds),
                isQuick ? 10 : parse.GetValue(queries));
            var report = new BenchReport("analytics");
            await RunAsync(settings, report, cancellationToken);
            report.PrintMarkdown(Console.Out);
            await report.WriteJsonAsync(parse.GetValue(json)!);
            return 0;
        });
        return command;
    }

    private sealed record Settings(int Rows, int QueryRows, int Tenants, int Rounds, int Queries);

    private static async Task RunAsync(Settings settings, BenchReport report, CancellationToken cancellationToken)
    {
        foreach (var (name, value) in new (string, object)[]
        {
            ("rows", settings.Rows), ("query_rows", settings.QueryRows), ("tenants", settings.Tenants),
            ("rounds", settings.Rounds), ("queries", settings.Queries),
        })
        {
            report.Parameter(name, value);
        }

        var rawPath = ClickHouseLocalProcess.NewDataPath();
        var host = await Progress.StepAsync("starting the ClickHouse-local host", () => ClickHouseLocalProcess.StartAsync());
        var raw = new RawChdb(rawPath);
        try
        {
            await InsertAsync(settings, host, raw, report, cancellationToken);
            await QueryAsync(settings, host, raw, report, cancellationToken);
        }
        finally
        {
            raw.Dispose();
            HostFixture.TryDelete(rawPath);
            await host.DisposeAsync();
            HostFixture.TryDelete(host.DataPath);
        }
    }

    private static async Task InsertAsync(Settings settings, ClickHouseLocalProcess host, RawChdb raw, BenchReport report, CancellationToken cancellationToken)
    {
        var rows = await Progress.StepAsync($"generating {settings.Rows:N0} usage rows",
            () => Task.FromResult(SyntheticUsage.History("bench", settings.Rows, HistoryStart, TimeSpan.FromDays(30), seed: 7)));
        var spool = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"tokage-bench-{Guid.NewGuid():N}.rowbinary");
        var driverRates = new List<double>();
        var rawRates = new List<double>();
        try
        {
            for (var round = 1; round <= settings.Rounds; round++)
            {
                var database = $"insert_{round}";
                using var client = await NewDatabaseAsync(host, database);
                var writer = new UsageEventWriter(client, Options.Create(new AnalyticsOptions()));
                var seconds = await Progress.StepAsync($"round {round}: {settings.Rows:N0} rows through the writer, driver and host", async () => await Sampling.MillisecondsAsync(() => writer.WriteEventsAsync(rows, cancellationToken: cancellationToken)) / 1000);
                Verify(settings.Rows, Convert.ToInt64(await client.ExecuteScalarAsync("SELECT count() FROM usage_events", cancellationToken: cancellationToken), CultureInfo.InvariantCulture), "host insert");
                driverRates.Add(settings.Rows / seconds);

                if (round == 1)
                {
                    // The very rows the host stored, in the format the driver sent them, for the raw insert.
                    await ExportRowBinaryAsync(host, database, spool, cancellationToken);
                }

                var rawDatabase = $"raw_insert_{round}";
                await raw.CreateDatabaseAsync(rawDatabase, cancellationToken);
                var rawSeconds = await Progress.StepAsync($"round {round}: the same rows into chDB in-process", async () => await Sampling.MillisecondsAsync(() =>
                    raw.ExecuteAsync(rawDatabase, $"INSERT INTO usage_events FROM INFILE '{spool}' COMPRESSION 'none' SETTINGS optimize_on_insert = 0 FORMAT RowBinary", cancellationToken: cancellationToken)) / 1000);
                Verify(settings.Rows, long.Parse(await raw.ExecuteAsync(rawDatabase, "SELECT count() FROM usage_events", cancellationToken: cancellationToken), CultureInfo.InvariantCulture), "raw insert");
                rawRates.Add(settings.Rows / rawSeconds);
            }
        }
        finally
        {
            File.Delete(spool);
        }

        report.Add(new Measurement($"insert {settings.Rows:N0} rows (writer → driver → host → chDB), median of {settings.Rounds}", Statistics.Median(driverRates), "rows/s",
            "raw chDB INSERT FROM INFILE in-process", Statistics.Median(rawRates)));
    }

    private static async Task QueryAsync(Settings settings, ClickHouseLocalProcess host, RawChdb raw, BenchReport report, CancellationToken cancellationToken)
    {
        const string database = "history";
        using var client = await NewDatabaseAsync(host, database);
        await raw.CreateDatabaseAsync(database, cancellationToken);
        var generate = SyntheticHistory.InsertSql(0, settings.QueryRows, settings.Tenants);
        await Progress.StepAsync($"generating {settings.QueryRows:N0} events of history on the host", () => client.ExecuteNonQueryAsync(generate, cancellationToken: cancellationToken));
        await Progress.StepAsync($"generating the same {settings.QueryRows:N0} events in chDB in-process", () => raw.ExecuteAsync(database, generate, cancellationToken: cancellationToken));

        const string tenant = "tenant-3";
        var from = new DateTimeOffset(HistoryStart);
        var to = from.AddDays(30);
        const string fiveAggregates = """
            SELECT model, count(), sum(input_tokens), sum(output_tokens), sum(cost_usd), uniqCombined64(user_id)
            FROM usage_events
            WHERE tenant_id = {tenant:String} AND event_time >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND event_time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
            GROUP BY model ORDER BY model
            """;
        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("tenant", tenant);
        parameters.AddParameter("from", from.ToUnixTimeMilliseconds());
        parameters.AddParameter("to", to.ToUnixTimeMilliseconds());
        KeyValuePair<string, string>[] rawParameters =
        [
            new("tenant", tenant),
            new("from", from.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)),
            new("to", to.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)),
        ];

        var (hostLatencies, rawLatencies) = await Sampling.PairAsync(settings.Queries, 2,
            async () =>
            {
                using var reader = await client.ExecuteReaderAsync(fiveAggregates, parameters, cancellationToken: cancellationToken);
                while (reader.Read())
                {
                }
            },
            () => raw.ExecuteAsync(database, fiveAggregates, rawParameters, cancellationToken));
        var scope = $"1 tenant of {settings.Tenants}, {settings.QueryRows:N0} events";
        report.Add(new Measurement($"5-aggregate GROUP BY model, p50 ({scope})", Statistics.Median(hostLatencies), "ms", "raw chDB in-process", Statistics.Median(rawLatencies)));
        report.Add(new Measurement($"5-aggregate GROUP BY model, p95 ({scope})", Statistics.Percentile(hostLatencies, 95), "ms", "raw chDB in-process", Statistics.Percentile(rawLatencies, 95)));
    }

    internal static async Task<ClickHouseClient> NewDatabaseAsync(ClickHouseLocalProcess host, string database)
    {
        using (var admin = new ClickHouseClient(host.ConnectionString))
        {
            await admin.ExecuteNonQueryAsync($"CREATE DATABASE {database}");
        }

        var client = new ClickHouseClient($"{host.ConnectionString};Database={database}");
        await new AnalyticsMigrator(client, Options.Create(new AnalyticsOptions()), NullLogger<AnalyticsMigrator>.Instance).MigrateAsync();
        return client;
    }

    private static async Task ExportRowBinaryAsync(ClickHouseLocalProcess host, string database, string path, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        var url = new Uri(host.BaseUri, $"?database={database}&password={Uri.EscapeDataString(host.Password)}");
        using var response = await http.PostAsync(url, new StringContent("SELECT * FROM usage_events FORMAT RowBinary"), cancellationToken);
        response.EnsureSuccessStatusCode();
        await using var file = File.Create(path);
        await response.Content.CopyToAsync(file, cancellationToken);
    }

    private static void Verify(long expected, long actual, string what)
    {
        if (expected != actual)
        {
            throw new InvalidOperationException($"{what}: {actual:N0} rows stored, {expected:N0} expected.");
        }
    }

    /// <summary>chDB in this process on its own data path: the baseline without HTTP, driver or host.</summary>
    private sealed class RawChdb : IDisposable
    {
        private readonly ChdbEngine engine;

        public RawChdb(string dataPath)
        {
            var library = ChdbLibraryLocator.Resolve(null, out var tried)
                ?? throw new InvalidOperationException($"libchdb.so not found (tried {string.Join(", ", tried)}); run ./scripts/setup.sh.");
            engine = ChdbEngine.Start(library, Options.Create(new ClickHouseLocalOptions { DataPath = dataPath, PoolSize = 1 }), NullLogger<ChdbEngine>.Instance);
        }

        public async Task CreateDatabaseAsync(string database, CancellationToken cancellationToken)
        {
            await ExecuteAsync(null, $"CREATE DATABASE {database}", cancellationToken: cancellationToken);
            foreach (var statement in Migration.All.SelectMany(m => m.Statements))
            {
                await ExecuteAsync(database, statement, cancellationToken: cancellationToken);
            }
        }

        public async Task<string> ExecuteAsync(string? database, string sql, IReadOnlyList<KeyValuePair<string, string>>? parameters = null, CancellationToken cancellationToken = default)
        {
            using var lease = await engine.AcquireAsync(cancellationToken);
            if (lease.Session.Prepare(database, []) is { } prepareError)
            {
                throw new InvalidOperationException(prepareError);
            }

            using var result = lease.Session.Run(Encoding.UTF8.GetBytes(sql), "TabSeparated", parameters ?? []);
            if (result.Error is { } error)
            {
                lease.Session.Recover();
                throw new InvalidOperationException(error);
            }

            using var reader = new StreamReader(result.OpenRead(), Encoding.UTF8);
            return (await reader.ReadToEndAsync(cancellationToken)).Trim();
        }

        public void Dispose() => engine.Dispose();
    }
}
