using System.CommandLine;
using System.Diagnostics;
using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Utility;
using Microsoft.Extensions.Options;
using Tokage.Analytics;
using Tokage.Contracts.V1;
using Tokage.Testing;

namespace Tokage.Bench;

/// <summary>
/// The event processor as a process on the real stack: throughput from a full log to ClickHouse + Parquet (dedupe,
/// pricing, classification, archive, commit), beside a bare insert of as many rows in the same 1,000-row batches; and
/// event→queryable latency at a steady rate, beside a bare insert→visible of a batch of the same size.
/// </summary>
internal static class ProcessorBenchmark
{
    private const int TickMilliseconds = 10;
    private static readonly string[] Models = ["claude-sonnet-4-5", "gpt-4o", "gemini-2.5-pro", "mystery-model"];
    private static readonly string[] Providers = ["anthropic", "openai", "gcp.gemini", "openai"];

    public static Command CreateCommand()
    {
        var events = new Option<int>("--events") { Description = "Events in the log for the throughput measurement.", DefaultValueFactory = _ => 200_000 };
        var command = new Command("processor", "Processor events/s (log → ClickHouse + Parquet) and event→queryable p50/p99 at a steady rate.") { events };
        return WithStreamOptions(command, "processor", (parse, isQuick) => isQuick ? 10_000 : parse.GetValue(events));
    }

    /// <summary>The latency half alone: event→queryable at a steady rate.</summary>
    public static Command CreateEndToEndCommand() =>
        WithStreamOptions(new Command("e2e", "Event→queryable p50/p99 at a steady rate through the whole stack, beside a bare insert→visible."), "e2e", (_, _) => 0);

    private static Command WithStreamOptions(Command command, string scenario, Func<ParseResult, bool, int> throughputEvents)
    {
        var rate = new Option<int>("--rate") { Description = "Events per second for the latency measurement.", DefaultValueFactory = _ => 5_000 };
        var seconds = new Option<int>("--seconds") { Description = "How long the steady stream runs.", DefaultValueFactory = _ => 30 };
        var tenants = new Option<int>("--tenants") { Description = "Tenants the events are spread over.", DefaultValueFactory = _ => 10 };
        var batchSize = new Option<int>("--batch-size") { Description = "The processor's Tokage:Processor:BatchSize.", DefaultValueFactory = _ => 1_000 };
        var quick = new Option<bool>("--quick") { Description = "5 s of stream (and 10,000 events for the throughput): a smoke run." };
        var json = new Option<string>("--json") { Description = "Where the JSON report goes.", DefaultValueFactory = _ => $".tokage/bench/{scenario}.json" };
        foreach (var option in (Option[])[rate, seconds, tenants, batchSize, quick, json])
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var isQuick = parse.GetValue(quick);
            var report = new BenchReport(scenario);
            await RunAsync(throughputEvents(parse, isQuick), parse.GetValue(rate), isQuick ? 5 : parse.GetValue(seconds), parse.GetValue(tenants), parse.GetValue(batchSize), report, cancellationToken);
            report.PrintMarkdown(Console.Out);
            await report.WriteJsonAsync(parse.GetValue(json)!);
            return 0;
        });
        return command;
    }

    private static async Task RunAsync(int events, int rate, int seconds, int tenantCount, int batchSize, BenchReport report, CancellationToken cancellationToken)
    {
        report.Parameter("batch_size", batchSize);
        report.Parameter("events", events);
        report.Parameter("rate", rate);
        report.Parameter("seconds", seconds);
        report.Parameter("tenants", tenantCount);
        var stack = new ProcessingStack
        {
            Settings = new Dictionary<string, string>
            {
                ["Logging__LogLevel__Default"] = "Warning",
                ["Tokage__Processor__BatchSize"] = batchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
        };
        await Progress.StepAsync("starting PostgreSQL, Redis, ClickHouse-local, the control plane, auth, price registry, ingestion, processor, query API", stack.InitializeAsync);
        try
        {
            var tenants = Enumerable.Range(0, tenantCount).Select(_ => Guid.NewGuid().ToString()).ToArray();
            if (events > 0)
            {
                await ThroughputAsync(stack, tenants, events, report, cancellationToken);
            }

            await LatencyAsync(stack, tenants[0], rate, seconds, report, cancellationToken);
        }
        finally
        {
            await stack.DisposeAsync();
        }
    }

    private static async Task ThroughputAsync(ProcessingStack stack, string[] tenants, int events, BenchReport report, CancellationToken cancellationToken)
    {
        await stack.KillProcessorAsync();
        var start = DateTimeOffset.UtcNow.AddHours(-6);
        await Progress.StepAsync($"appending {events:N0} events to the log", async () =>
        {
            foreach (var chunk in Enumerable.Range(0, events).Chunk(5_000))
            {
                await stack.AppendAsync(chunk.Select(i => Event(tenants[i % tenants.Length], $"t-{i}", start.AddMilliseconds(i * 50), i)));
            }
        });

        var (processed, elapsed) = await Progress.StepAsync($"processing {events:N0} events", async () =>
        {
            await stack.StartProcessorAsync();
            return await UntilStoredAsync(stack.Analytics, (ulong)events, cancellationToken);
        });

        // The baseline: as many rows written straight to ClickHouse by the same writer, in 1,000-row batches.
        var writer = new UsageEventWriter(stack.Analytics, Options.Create(new AnalyticsOptions { InsertChunkRows = 1_000 }));
        var rows = SyntheticUsage.History("baseline-" + Guid.NewGuid().ToString("N"), events, DateTime.UtcNow.AddDays(-1), TimeSpan.FromHours(20), seed: 7);
        var bare = await Progress.StepAsync($"bare insert of {events:N0} rows in 1,000-row batches", async () =>
        {
            var started = Stopwatch.GetTimestamp();
            foreach (var batch in rows.Chunk(1_000))
            {
                await writer.WriteEventsAsync(batch, cancellationToken: cancellationToken);
            }

            return Stopwatch.GetElapsedTime(started);
        });

        report.Add(new Measurement("processor: log → ClickHouse + Parquet (dedupe, price, classify, archive, commit)", processed / elapsed.TotalSeconds, "events/s",
            "bare ClickHouse insert, 1,000-row batches", events / bare.TotalSeconds));
        var files = Directory.EnumerateFiles(Path.Combine(stack.ArchivePath, "archive"), "*.parquet", SearchOption.AllDirectories).Count();
        report.Parameter("archive_files", files);
    }

    /// <summary>Rows counted from the first one seen to the last: the processor's own pace, not its start-up.</summary>
    private static async Task<(double Processed, TimeSpan Elapsed)> UntilStoredAsync(ClickHouseClient client, ulong expected, CancellationToken cancellationToken)
    {
        long? firstSeenAt = null;
        ulong firstCount = 0;
        while (true)
        {
            var count = Convert.ToUInt64(await client.ExecuteScalarAsync("SELECT count() FROM usage_events WHERE tenant_id NOT LIKE 'baseline-%'", cancellationToken: cancellationToken));
            var now = Stopwatch.GetTimestamp();
            if (count > 0 && firstSeenAt is null)
            {
                (firstSeenAt, firstCount) = (now, count);
            }

            if (count >= expected)
            {
                return (count - firstCount, Stopwatch.GetElapsedTime(firstSeenAt!.Value, now));
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private static async Task LatencyAsync(ProcessingStack stack, string tenant, int rate, int seconds, BenchReport report, CancellationToken cancellationToken)
    {
        var perTick = Math.Max(1, rate * TickMilliseconds / 1000);
        var latest = (Ids: Array.Empty<string>(), AppendedAt: 0L);
        var producing = true;
        var sent = 0;

        var producer = Task.Run(async () =>
        {
            var started = Stopwatch.GetTimestamp();
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(TickMilliseconds));
            while (Stopwatch.GetElapsedTime(started).TotalSeconds < seconds && await timer.WaitForNextTickAsync(cancellationToken))
            {
                // Catch up if a tick came late: the rate is kept over the run, not per tick.
                var due = (int)(rate * Stopwatch.GetElapsedTime(started).TotalSeconds) - sent;
                while (due > 0)
                {
                    var batch = Enumerable.Range(sent, Math.Min(due, perTick)).Select(i => Event(tenant, $"s-{i}", DateTimeOffset.UtcNow, i)).ToList();
                    var appendedAt = Stopwatch.GetTimestamp();
                    await stack.AppendAsync(batch);
                    latest = (batch.Select(b => b.Event.EventId).ToArray(), appendedAt);
                    sent += batch.Count;
                    due -= batch.Count;
                }
            }

            producing = false;
        }, cancellationToken);

        var samples = await Progress.StepAsync($"{seconds} s at {rate:N0} events/s, sampling event→queryable", async () =>
        {
            var measured = new List<double>();
            await Task.Delay(1_000, cancellationToken);
            while (producing)
            {
                var (ids, appendedAt) = latest;
                if (ids.Length > 0)
                {
                    await UntilVisibleAsync(stack.Analytics, tenant, ids, cancellationToken);
                    measured.Add(Stopwatch.GetElapsedTime(appendedAt).TotalMilliseconds);
                }
            }

            return measured;
        });
        await producer;
        report.Parameter("stream_events_sent", sent);

        // The floor: the same-sized batch written straight to ClickHouse, then the same visibility query.
        var writer = new UsageEventWriter(stack.Analytics, Options.Create(new AnalyticsOptions()));
        var floor = new List<double>();
        for (var i = 0; i < Math.Max(samples.Count, 20); i++)
        {
            var rows = SyntheticUsage.History("baseline-" + Guid.NewGuid().ToString("N"), perTick, DateTime.UtcNow.AddMinutes(-1), TimeSpan.FromSeconds(1), seed: i);
            var started = Stopwatch.GetTimestamp();
            await writer.WriteEventsAsync(rows, cancellationToken: cancellationToken);
            await UntilVisibleAsync(stack.Analytics, rows[0].TenantId, rows.Select(r => r.EventId).ToArray(), cancellationToken);
            floor.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        report.Parameter("latency_samples", samples.Count);
        report.Add(new Measurement($"event→queryable at {rate:N0}/s, p50", Statistics.Median(samples), "ms", $"bare {perTick}-row insert→visible", Statistics.Median(floor)));
        report.Add(new Measurement($"event→queryable at {rate:N0}/s, p99", Statistics.Percentile(samples, 99), "ms", $"bare {perTick}-row insert→visible", Statistics.Percentile(floor, 99)));
    }

    private static async Task UntilVisibleAsync(ClickHouseClient client, string tenant, string[] ids, CancellationToken cancellationToken)
    {
        while (true)
        {
            var parameters = new ClickHouseParameterCollection();
            parameters.AddParameter("tenant", tenant);
            parameters.AddParameter("ids", ids);
            var count = Convert.ToInt32(await client.ExecuteScalarAsync(
                "SELECT count() FROM usage_events WHERE tenant_id = {tenant:String} AND event_id IN {ids:Array(String)}", parameters, cancellationToken: cancellationToken));
            if (count >= ids.Length)
            {
                return;
            }

            await Task.Delay(5, cancellationToken);
        }
    }

    private static LoggedUsageEvent Event(string tenant, string id, DateTimeOffset at, int i) =>
        Logged.Event(tenant, id, at, model: Models[i % Models.Length], provider: Providers[i % Providers.Length],
            input: 1_000 + i % 5_000, cacheRead: i % 3 == 0 ? 500 : 0, cacheWrite: 0, output: 200 + i % 700, reasoning: i % 4 == 0 ? 100 : 0,
            userId: $"u-{i % 200}");
}
