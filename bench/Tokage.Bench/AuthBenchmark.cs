using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tokage.ApiKeys;
using Tokage.Contracts.V1;
using Tokage.Testing;

namespace Tokage.Bench;

/// <summary>
/// Key resolution: the auth service's ResolveKey over gRPC with its Redis cache warm and cold (every key new, so
/// PostgreSQL answers), and a caller's in-process LRU hit, each beside a bare Redis GET measured in the same run.
/// </summary>
internal static class AuthBenchmark
{
    public static Command CreateCommand()
    {
        var calls = new Option<int>("--calls") { Description = "Timed calls per warm measurement.", DefaultValueFactory = _ => 5_000 };
        var keys = new Option<int>("--cold-keys") { Description = "Distinct keys for the cold measurement (each resolved once).", DefaultValueFactory = _ => 500 };
        var quick = new Option<bool>("--quick") { Description = "1,000 calls and 100 cold keys: a smoke run." };
        var json = new Option<string>("--json") { Description = "Where the JSON report goes.", DefaultValueFactory = _ => ".tokage/bench/auth.json" };
        var command = new Command("auth", "Key resolution p50/p99, warm and cold, beside a bare Redis GET.") { calls, keys, quick, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var isQuick = parse.GetValue(quick);
            var report = new BenchReport("auth");
            await RunAsync(isQuick ? 1_000 : parse.GetValue(calls), isQuick ? 100 : parse.GetValue(keys), report, cancellationToken);
            report.PrintMarkdown(Console.Out);
            await report.WriteJsonAsync(parse.GetValue(json)!);
            return 0;
        });
        return command;
    }

    private static async Task RunAsync(int calls, int coldKeys, BenchReport report, CancellationToken cancellationToken)
    {
        report.Parameter("calls", calls);
        report.Parameter("cold_keys", coldKeys);
        var stack = new ControlPlaneStack { Settings = new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning" } };
        await Progress.StepAsync("starting PostgreSQL, Redis, the control plane and auth", stack.InitializeAsync);
        try
        {
            await MeasureAsync(stack, calls, coldKeys, report, cancellationToken);
        }
        finally
        {
            await stack.DisposeAsync();
        }
    }

    private static async Task MeasureAsync(ControlPlaneStack stack, int calls, int coldKeys, BenchReport report, CancellationToken cancellationToken)
    {
        var warmKey = (string)(await stack.PostAsync("/v1/tenants", new { name = "bench" }))["api_key"]!;
        var cold = await Progress.StepAsync($"creating {coldKeys} keys", async () =>
        {
            var created = new List<string>(coldKeys);
            for (var i = 0; i < coldKeys; i++)
            {
                created.Add((string)(await stack.PostAsync("/v1/tenants/bench/keys", new { name = $"cold-{i}" }))["api_key"]!);
            }

            return created;
        });

        var client = stack.AuthClient;
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(stack.Redis.ConnectionString);
        var db = multiplexer.GetDatabase();
        var probe = ApiKeyCache.EntryKey(ApiKeyFormat.HashHex(warmKey));

        // Warm: the auth service's Redis entry exists; the baseline is a GET of that very entry.
        await client.ResolveKeyAsync(new ResolveKeyRequest { Key = warmKey });
        var (resolveWarm, redisGet) = await Progress.StepAsync($"{calls:N0} warm resolutions and Redis GETs", () => Sampling.PairAsync(calls, 200,
            async () => await client.ResolveKeyAsync(new ResolveKeyRequest { Key = warmKey }, cancellationToken: cancellationToken),
            async () => await db.StringGetAsync(probe)));
        Add(report, "ResolveKey over gRPC, Redis cache warm", resolveWarm, "bare Redis GET", redisGet);

        // Cold: each key resolved for the first time, so Redis misses and PostgreSQL answers.
        var coldLatencies = await Progress.StepAsync($"{coldKeys} cold resolutions", async () =>
        {
            var samples = new List<double>(coldKeys);
            foreach (var key in cold)
            {
                samples.Add(await Sampling.MillisecondsAsync(async () => await client.ResolveKeyAsync(new ResolveKeyRequest { Key = key }, cancellationToken: cancellationToken)));
            }

            return samples;
        });
        Add(report, "ResolveKey over gRPC, cold (Redis miss → PostgreSQL)", coldLatencies, "bare Redis GET", redisGet);

        // A caller's LRU hit: what ingestion and query-api pay per request while the entry is fresh.
        var caller = new CachingApiKeyResolver(client, Options.Create(new ApiKeyClientOptions { CacheTtl = TimeSpan.FromMinutes(10) }), NullLogger<CachingApiKeyResolver>.Instance);
        await caller.ResolveAsync(warmKey, cancellationToken);
        var (lruHits, redisAgain) = await Sampling.PairAsync(calls, 200,
            async () => await caller.ResolveAsync(warmKey, cancellationToken),
            async () => await db.StringGetAsync(probe));
        Add(report, "caller's in-process LRU hit", lruHits, "bare Redis GET", redisAgain);
    }

    private static void Add(BenchReport report, string what, List<double> samples, string baseline, List<double> baselineSamples)
    {
        report.Add(new Measurement($"{what}, p50", Statistics.Median(samples), "ms", baseline, Statistics.Median(baselineSamples)));
        report.Add(new Measurement($"{what}, p99", Statistics.Percentile(samples, 99), "ms", baseline, Statistics.Percentile(baselineSamples, 99)));
    }
}
