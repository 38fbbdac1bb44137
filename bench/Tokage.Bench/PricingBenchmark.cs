using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ClickHouse.Driver.Utility;
using StackExchange.Redis;
using Tokage.Testing;

namespace Tokage.Bench;

/// <summary>
/// Issue O's two figures on the whole stack: budget reservations (<c>POST /v1/entitlements/reserve</c>, a PostgreSQL row
/// lock on the budget) at a steady rate, p50/p99, each followed by a bare Redis EVAL of a check-and-add script (what
/// the same grant costs on Redis alone); and a repricing after a price correction, in events/s, beside a raw
/// ClickHouse scan (<c>FINAL</c>) of the same rows.
/// </summary>
internal static class PricingBenchmark
{
    // StackExchange.Redis's LuaScript names its keys and arguments (@key, …) and passes them as KEYS and ARGV.
    private const string CheckAndAdd = """
        local held = tonumber(redis.call('GET', @key) or '0')
        if held + tonumber(@amount) > tonumber(@limit) then return 0 end
        redis.call('INCRBYFLOAT', @key, @amount)
        return 1
        """;

    public static Command CreateCommand()
    {
        var reservations = new Option<int>("--reservations") { Description = "Reservations sent at --rate.", DefaultValueFactory = _ => 5_000 };
        var rate = new Option<int>("--rate") { Description = "Reservations per second.", DefaultValueFactory = _ => 1_000 };
        var events = new Option<long>("--events") { Description = "Stored events the correction reprices.", DefaultValueFactory = _ => 10_000_000 };
        var quick = new Option<bool>("--quick") { Description = "300 reservations at 200/s and 50,000 events: a smoke run." };
        var json = new Option<string>("--json") { Description = "Where the JSON report goes.", DefaultValueFactory = _ => ".tokage/bench/pricing.json" };
        var command = new Command("pricing", "Reservation p99 at 1,000/s beside a bare Redis EVAL; repricing of 10M events beside a raw scan.") { reservations, rate, events, quick, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var isQuick = parse.GetValue(quick);
            var settings = isQuick ? new Settings(300, 200, 50_000) : new Settings(parse.GetValue(reservations), parse.GetValue(rate), parse.GetValue(events));
            var report = new BenchReport("pricing");
            report.Parameter("reservations", settings.Reservations);
            report.Parameter("rate", settings.Rate);
            report.Parameter("events", settings.Events);
            var stack = new ProcessingStack { Settings = new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning" } };
            await Progress.StepAsync("starting the stack (PostgreSQL, Redis, ClickHouse host, every service)", stack.InitializeAsync);
            try
            {
                await ReservationsAsync(stack, settings, report, cancellationToken);
                await RepricingAsync(stack, settings, report, cancellationToken);
            }
            finally
            {
                await stack.DisposeAsync();
            }

            report.PrintMarkdown(Console.Out);
            await report.WriteJsonAsync(parse.GetValue(json)!);
            return 0;
        });
        return command;
    }

    private sealed record Settings(int Reservations, int Rate, long Events);

    private static async Task ReservationsAsync(ProcessingStack stack, Settings settings, BenchReport report, CancellationToken cancellationToken)
    {
        var tenant = await stack.Core.CreateTenantAsync("bench-reserve");
        var (id, key) = ((string)tenant["tenant_id"]!, (string)tenant["api_key"]!);
        // Room for every reservation: each is granted, so each takes the lock and writes its row.
        await stack.Core.PostAsync($"/v1/tenants/{id}/budgets", new { name = "bench-cap", scope = new { kind = "team", value = "agents" }, period = "monthly", amount_usd = "1000000", hard_limit = true });
        using var http = new HttpClient { BaseAddress = stack.QueryApi.HttpUri };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(stack.Core.Redis.ConnectionString);
        var db = redis.GetDatabase();
        var script = LuaScript.Prepare(CheckAndAdd);
        var run = Guid.NewGuid().ToString("N")[..8];

        var answers = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        async Task<bool> ReserveAsync(string reservation)
        {
            using var response = await http.PostAsJsonAsync("/v1/entitlements/reserve",
                new { scope = new { kind = "team", value = "agents" }, estimated_cost_usd = "0.0001", ttl_seconds = 300, reservation_id = reservation }, cancellationToken);
            var granted = response.StatusCode == HttpStatusCode.OK && (bool)JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!["granted"]!;
            answers.AddOrUpdate(granted ? "granted" : ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
            return granted;
        }

        Task EvalAsync() => db.ScriptEvaluateAsync(script, new { key = (RedisKey)$"bench:held:{run}", amount = "0.0001", limit = "1000000" });

        for (var i = 0; i < 50; i++)
        {
            await ReserveAsync($"{run}-warm-{i}");
            await EvalAsync();
        }

        var reserved = new double[settings.Reservations];
        var evals = new double[settings.Reservations];
        var refused = 0;
        await Progress.StepAsync($"{settings.Reservations:N0} reservations at {settings.Rate:N0}/s", async () =>
        {
            await Load.SteadyAsync(settings.Reservations, settings.Rate, async index =>
            {
                var granted = false;
                reserved[index] = await Sampling.MillisecondsAsync(async () => granted = await ReserveAsync($"{run}-{index}"));
                if (!granted)
                {
                    Interlocked.Increment(ref refused);
                }

                evals[index] = await Sampling.MillisecondsAsync(EvalAsync);
            }, cancellationToken);
            return 0;
        });

        report.Parameter("reservations_not_granted", refused);
        if (stack.QueryApi.Output.Split('\n').FirstOrDefault(l => l.Contains("refused as unavailable", StringComparison.Ordinal)) is { } why)
        {
            Console.WriteLine($"[bench] first refusal: {why.Trim()}");
        }
        report.Parameter("reservation_answers", string.Join(", ", answers.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key} ×{a.Value}")));
        report.Add(new Measurement($"reservation at {settings.Rate:N0}/s, p50", Statistics.Median(reserved), "ms", "bare Redis EVAL (check and add)", Statistics.Median(evals)));
        report.Add(new Measurement($"reservation at {settings.Rate:N0}/s, p99", Statistics.Percentile(reserved, 99), "ms", "bare Redis EVAL (check and add)", Statistics.Percentile(evals, 99)));
    }

    private static async Task RepricingAsync(ProcessingStack stack, Settings settings, BenchReport report, CancellationToken cancellationToken)
    {
        var tenant = "bench-reprice-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = new HttpClient { BaseAddress = stack.PriceRegistry.HttpUri, Timeout = TimeSpan.FromMinutes(2) };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ControlPlaneStack.AdminToken);
        var rates = new Dictionary<string, string> { ["input_cost_per_token"] = "0.0000015", ["output_cost_per_token"] = "0.0000075" };
        using var created = await admin.PostAsJsonAsync("/v1/prices", new
        {
            provider = "anthropic", model = "claude-sonnet-4-5", tenant_id = tenant, effective_from = SyntheticHistory.Start.AddDays(-1), prices = rates,
        }, cancellationToken);
        var version = (long)JsonNode.Parse(await created.Content.ReadAsStringAsync(cancellationToken))!["version_id"]!;

        // The events that version priced, by SQL: what the processor would have stored (cost at those rates).
        await Progress.StepAsync($"generating {settings.Events:N0} priced events", () => stack.Analytics.ExecuteNonQueryAsync($"""
            INSERT INTO usage_events (tenant_id, event_id, event_time, ingest_time, ingest_version, source, provider, model, service_tier,
                application, project, user_id, team, environment, input_tokens, output_tokens, priced, cost_usd, price_version_id, priced_model, classification)
            SELECT '{tenant}', concat('e-', toString(number)),
                toDateTime64('{SyntheticHistory.Start:yyyy-MM-dd} 00:00:00', 3, 'UTC') + toIntervalMillisecond(cityHash64(number) % {SyntheticHistory.Days * 86_400_000L}) AS at,
                at, 1, 'http', 'anthropic', 'claude-sonnet-4-5', 'standard', 'agent', 'platform', concat('u-', toString(number % 500)), 'ml', 'prod',
                cityHash64(number, 6) % 20000 AS input, cityHash64(number, 7) % 2000 AS output, true,
                toDecimal128(input, 18) * toDecimal128('0.0000015', 18) + toDecimal128(output, 18) * toDecimal128('0.0000075', 18),
                '{version}', 'claude-sonnet-4-5', 'BILLING'
            FROM numbers({settings.Events})
            SETTINGS optimize_on_insert = 0
            """, cancellationToken: cancellationToken));

        var scan = $"SELECT count(), sum(cost_usd) FROM usage_events FINAL WHERE tenant_id = '{tenant}' AND price_version_id = '{version}'";
        var scans = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            scans.Add(await Sampling.MillisecondsAsync(() => stack.Analytics.ExecuteScalarAsync(scan, cancellationToken: cancellationToken)));
        }

        // The agreed rates were twice these: every event gets an adjustment.
        var started = Stopwatch.GetTimestamp();
        using var corrected = await admin.PostAsJsonAsync($"/v1/prices/{version}/corrections",
            new { prices = rates.ToDictionary(r => r.Key, r => (decimal.Parse(r.Value, CultureInfo.InvariantCulture) * 2).ToString(CultureInfo.InvariantCulture)) }, cancellationToken);
        var location = corrected.Headers.Location ?? throw new InvalidOperationException($"The correction was refused: {corrected.StatusCode}.");
        var job = await Progress.StepAsync($"repricing {settings.Events:N0} events", async () =>
        {
            while (true)
            {
                var state = JsonNode.Parse(await admin.GetStringAsync(location, cancellationToken))!;
                if ((string)state["status"]! is "done" or "failed")
                {
                    return state;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
            }
        });
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var adjusted = (long)job["events_adjusted"]!;
        if ((string)job["status"]! != "done" || adjusted != settings.Events)
        {
            throw new InvalidOperationException($"The repricing ended {job["status"]} with {adjusted:N0} of {settings.Events:N0} events adjusted: {job.ToJsonString()}");
        }

        var scanSeconds = Statistics.Median(scans) / 1000;
        report.Add(new Measurement("repricing (correction → every event adjusted)", settings.Events / seconds, "events/s",
            "raw ClickHouse scan (FINAL) of the same rows", settings.Events / scanSeconds));
    }
}
