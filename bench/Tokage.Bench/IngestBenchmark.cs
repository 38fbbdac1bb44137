using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;
using Metadata = Grpc.Core.Metadata;
using Grpc.Net.Client;
using Microsoft.Extensions.Hosting;
using Npgsql;
using StackExchange.Redis;
using Tokage.Contracts.V1;
using Tokage.Testing;

namespace Tokage.Bench;

/// <summary>
/// Ingest throughput and acknowledgement latency through the ingestion service (HTTP single events, closed-loop
/// and at a steady rate; HTTP and gRPC 1,000-event batches; gRPC client streams), on the Redis Streams log and on
/// Kafka (librdkafka's mock cluster), each beside the log's own limit measured in the same run (raw pipelined
/// XADD, raw acks=all produce), and single events beside the naive alternative: one INSERT per event into PostgreSQL.
/// </summary>
internal static class IngestBenchmark
{
    private const int BatchSize = 1_000;
    private const int Warmup = 4;

    // Event ids unique to this run: a second run against the same running stack is new usage, not duplicates.
    private static readonly string Run = Guid.NewGuid().ToString("N")[..8];

    public static Command CreateCommand()
    {
        var batches = new Option<int>("--batches") { Description = "1,000-event batches per throughput measurement.", DefaultValueFactory = _ => 100 };
        var singles = new Option<int>("--singles") { Description = "Single events sent at --rate for the latency measurement.", DefaultValueFactory = _ => 5_000 };
        var rate = new Option<int>("--rate") { Description = "Single events per second for the latency measurement.", DefaultValueFactory = _ => 1_000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Batches in flight at once.", DefaultValueFactory = _ => 4 };
        var singleConcurrency = new Option<int>("--single-concurrency") { Description = "Single events in flight at once for the closed-loop measurement.", DefaultValueFactory = _ => 16 };
        var target = new Option<Uri?>("--target") { Description = "A running ingestion's HTTP address (e.g. the AppHost's http://localhost:8080); its gRPC is taken at port 8081 of the same host unless --target-grpc says. Default: the AppHost's, when it answers and an API key is given; otherwise the benchmark starts its own stack." };
        var targetGrpc = new Option<Uri?>("--target-grpc") { Description = "The running ingestion's gRPC address." };
        var apiKey = new Option<string?>("--api-key") { Description = "A key with the ingest scope for the running stack (or TOKAGE_API_KEY)." };
        var redis = new Option<string?>("--redis") { Description = "The running stack's Redis (StackExchange.Redis form), for the raw XADD baseline; without it, a running stack's figures have none." };
        var quick = new Option<bool>("--quick") { Description = "10 batches, 500 singles: a smoke run." };
        var json = new Option<string>("--json") { Description = "Where the JSON report goes.", DefaultValueFactory = _ => ".tokage/bench/ingest.json" };
        var command = new Command("ingest", "Ingest events/s and ACK latency (HTTP, gRPC; Redis Streams and Kafka) beside the log's own limit.")
        {
            batches, singles, rate, concurrency, singleConcurrency, target, targetGrpc, apiKey, redis, quick, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var isQuick = parse.GetValue(quick);
            var report = new BenchReport("ingest");
            var load = new Settings(isQuick ? 10 : parse.GetValue(batches), isQuick ? 500 : parse.GetValue(singles), parse.GetValue(rate),
                parse.GetValue(concurrency), parse.GetValue(singleConcurrency));
            report.Parameter("single_concurrency", load.SingleConcurrency);
            report.Parameter("batches", load.Batches);
            report.Parameter("batch_size", BatchSize);
            report.Parameter("singles", load.Singles);
            report.Parameter("single_rate", load.Rate);
            report.Parameter("concurrency", load.Concurrency);
            var running = await RunningStack.FindAsync(parse.GetValue(target), parse.GetValue(targetGrpc),
                parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("TOKAGE_API_KEY"), parse.GetValue(redis));
            if (running is null)
            {
                await RunOnOwnStackAsync(load, report, cancellationToken);
            }
            else
            {
                await RunOnRunningStackAsync(running, load, report, cancellationToken);
            }

            report.PrintMarkdown(Console.Out);
            await report.WriteJsonAsync(parse.GetValue(json)!);
            return 0;
        });
        return command;
    }

    private sealed record Settings(int Batches, int Singles, int Rate, int Concurrency, int SingleConcurrency);

    /// <summary>A stack someone else runs (the AppHost's, or a deployment): its ingestion, a key, optionally its log's Redis.</summary>
    private sealed record RunningStack(Uri Http, Uri Grpc, string ApiKey, string? Redis)
    {
        private static readonly Uri AppHostIngestion = new("http://localhost:8080");

        /// <summary>The stack named by the options, or the AppHost's when it answers and a key is given; null: start one.</summary>
        public static async Task<RunningStack?> FindAsync(Uri? target, Uri? targetGrpc, string? apiKey, string? redis)
        {
            if (target is null && (apiKey is null || !await IsHealthyAsync(AppHostIngestion)))
            {
                Console.WriteLine("[bench] no running stack named (--target) or found at localhost:8080 with an API key: starting one");
                return null;
            }

            var http = target ?? AppHostIngestion;
            if (apiKey is null)
            {
                throw new ArgumentException("--target needs --api-key (or TOKAGE_API_KEY): a key with the ingest scope.");
            }

            if (!await IsHealthyAsync(http))
            {
                throw new InvalidOperationException($"{http} does not answer /health with 200.");
            }

            Console.WriteLine($"[bench] measuring the running stack at {http}");
            return new RunningStack(http, targetGrpc ?? new UriBuilder(http) { Port = 8081 }.Uri, apiKey, redis);
        }

        private static async Task<bool> IsHealthyAsync(Uri ingestion)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            try
            {
                using var response = await http.GetAsync(new Uri(ingestion, "/health"));
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }
    }

    private static async Task RunOnOwnStackAsync(Settings settings, BenchReport report, CancellationToken cancellationToken)
    {
        var stack = new ControlPlaneStack { Settings = new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning" } };
        await Progress.StepAsync("starting PostgreSQL, Redis, the control plane and auth", stack.InitializeAsync);
        using var cluster = new KafkaMockCluster();
        try
        {
            var onRedis = await Progress.StepAsync("starting ingestion on Redis Streams", () => stack.StartIngestionAsync());
            var onKafka = await Progress.StepAsync("starting ingestion on Kafka (mock cluster)", () =>
                stack.StartIngestionAsync($"Transport=Kafka;BootstrapServers={cluster.BootstrapServers}"));
            var tenant = await stack.PostAsync("/v1/tenants", new { name = "bench", rate_limit = new { events_per_second = 1_000_000, burst = 1_000_000 } });
            var key = (string)tenant["api_key"]!;
            var tenantId = (string)tenant["tenant_id"]!;

            await using var redis = await ConnectionMultiplexer.ConnectAsync(stack.Redis.ConnectionString);
            var front = new FrontDoor(onRedis.HttpUri, onRedis.GrpcUri, key, "Redis Streams log", redis.GetDatabase(), Logged(tenantId, "payload", 0).ToByteArray());
            await MeasureFrontDoorAsync(front, settings, report, () => NaivePostgresAsync(stack.Postgres, tenantId, settings.Singles, settings.SingleConcurrency), cancellationToken);

            // Kafka.
            var httpKafka = await HttpBatchesAsync(onKafka.HttpUri, key, settings.Batches, settings.Concurrency, $"{Run}-kafka-http", cancellationToken);
            var produce = await RawProduceAsync(cluster.BootstrapServers, tenantId, front.Payload, settings.Batches, settings.Concurrency);
            report.Add(new Measurement($"HTTP batches of {BatchSize:N0}, Kafka log (mock cluster, acks=all)", httpKafka, "events/s", "raw acks=all produce of the same payloads", produce));
        }
        finally
        {
            await stack.DisposeAsync();
        }
    }

    private static async Task RunOnRunningStackAsync(RunningStack running, Settings settings, BenchReport report, CancellationToken cancellationToken)
    {
        report.Parameter("target", running.Http);
        await using var redis = running.Redis is null ? null : await ConnectionMultiplexer.ConnectAsync(running.Redis);
        var front = new FrontDoor(running.Http, running.Grpc, running.ApiKey, $"running stack at {running.Http.Authority}", redis?.GetDatabase(), Logged("bench", "payload", 0).ToByteArray());
        await MeasureFrontDoorAsync(front, settings, report, naive: null, cancellationToken);
    }

    /// <summary>One ingestion and, when known, the Redis its log is on (for the raw XADD baseline).</summary>
    private sealed record FrontDoor(Uri Http, Uri Grpc, string ApiKey, string Log, IDatabase? Redis, byte[] Payload);

    /// <summary>Batches over HTTP, gRPC and gRPC streams, singles closed-loop and at a steady rate, each beside its baseline where there is one.</summary>
    private static async Task MeasureFrontDoorAsync(FrontDoor front, Settings settings, BenchReport report, Func<Task<double>>? naive, CancellationToken cancellationToken)
    {
        var (batches, concurrency) = (settings.Batches, settings.Concurrency);
        var http = await HttpBatchesAsync(front.Http, front.ApiKey, batches, concurrency, $"{Run}-http", cancellationToken);
        double? xadd = front.Redis is { } redis ? await RawXaddAsync(redis, front.Payload, batches, concurrency) : null;
        const string xaddBaseline = "raw pipelined XADD of the same payloads";
        report.Add(new Measurement($"HTTP batches of {BatchSize:N0}, {front.Log}", http, "events/s", xadd is null ? null : xaddBaseline, xadd));
        var grpc = await GrpcBatchesAsync(front.Grpc, front.ApiKey, batches, concurrency, $"{Run}-grpc", cancellationToken);
        report.Add(new Measurement($"gRPC IngestBatch of {BatchSize:N0}, {front.Log}", grpc, "events/s", xadd is null ? null : xaddBaseline, xadd));
        var stream = await GrpcStreamsAsync(front.Grpc, front.ApiKey, batches, concurrency, $"{Run}-stream", cancellationToken);
        report.Add(new Measurement($"gRPC IngestStream of {BatchSize:N0} a call, {front.Log}", stream, "events/s", xadd is null ? null : xaddBaseline, xadd));

        var singles = await HttpSinglesAsync(front.Http, front.ApiKey, settings.Singles, settings.SingleConcurrency, cancellationToken);
        double? naiveRate = naive is null ? null : await naive();
        report.Add(new Measurement($"HTTP single events, {settings.SingleConcurrency} in flight, {front.Log}", singles, "events/s",
            naiveRate is null ? null : "naive: one INSERT per event into PostgreSQL (fsync on), as many in flight", naiveRate));

        var (singleLatencies, xaddLatencies, refused) = await SteadySinglesAsync(front.Http, front.ApiKey, settings.Singles, settings.Rate, front.Redis, front.Payload, cancellationToken);
        // An overloaded machine can make the log miss its ack timeout (503): counted and reported, not hidden.
        report.Parameter("singles_not_acknowledged", refused);
        var single = xaddLatencies.Count > 0 ? "single XADD" : null;
        report.Add(new Measurement($"HTTP single event ACK at {settings.Rate:N0}/s, p50", Statistics.Median(singleLatencies), "ms", single, single is null ? null : Statistics.Median(xaddLatencies)));
        report.Add(new Measurement($"HTTP single event ACK at {settings.Rate:N0}/s, p99", Statistics.Percentile(singleLatencies, 99), "ms", single, single is null ? null : Statistics.Percentile(xaddLatencies, 99)));
    }

    private static LoggedUsageEvent Logged(string tenantId, string id, int i) => new()
    {
        SchemaVersion = 1, TenantId = tenantId, KeyId = "k", ReceivedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Source = "http",
        Event = Proto($"{id}-{i}"),
    };

    private static TokenUsageEvent Proto(string id) => new()
    {
        EventId = id, Timestamp = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Provider = "openai", Model = "gpt-4o",
        Usage = new TokenUsage { InputTokens = 1200, CacheReadTokens = 200, OutputTokens = 300, ReasoningTokens = 20 },
        Application = "bench", Project = "p", UserId = "u-1", Team = "t", Environment = "prod",
    };

    private static string JsonEvent(string id) =>
        $"{{\"event_id\":\"{id}\",\"timestamp\":\"{DateTimeOffset.UtcNow:O}\",\"provider\":\"openai\",\"model\":\"gpt-4o\"," +
        "\"usage\":{\"input_tokens\":1200,\"cache_read_tokens\":200,\"output_tokens\":300,\"reasoning_tokens\":20}," +
        "\"application\":\"bench\",\"project\":\"p\",\"user_id\":\"u-1\",\"team\":\"t\",\"environment\":\"prod\"}";

    private static async Task<double> HttpBatchesAsync(Uri ingestion, string key, int batches, int concurrency, string prefix, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = ingestion };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        batches += Warmup;
        var bodies = Enumerable.Range(0, batches)
            .Select(b => Encoding.UTF8.GetBytes("{\"events\":[" + string.Join(",", Enumerable.Range(0, BatchSize).Select(i => JsonEvent($"{prefix}-{b}-{i}"))) + "]}"))
            .ToList();
        return await Progress.StepAsync($"{batches} HTTP batches ({prefix})", () => ThroughputAsync(batches, concurrency, async b =>
        {
            using var content = new ByteArrayContent(bodies[b]);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.PostAsync("/v1/events/batch", content, cancellationToken);
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                throw new InvalidOperationException($"batch {b}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
        }));
    }

    private static async Task<double> GrpcBatchesAsync(Uri ingestion, string key, int batches, int concurrency, string prefix, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress(ingestion);
        var client = new IngestService.IngestServiceClient(channel);
        var auth = new Metadata { { "authorization", $"Bearer {key}" } };
        batches += Warmup;
        var requests = Enumerable.Range(0, batches)
            .Select(b => new IngestBatchRequest { Events = { Enumerable.Range(0, BatchSize).Select(i => Proto($"{prefix}-{b}-{i}")) } })
            .ToList();
        return await Progress.StepAsync($"{batches} gRPC batches ({prefix})", () => ThroughputAsync(batches, concurrency, async b =>
        {
            var reply = await client.IngestBatchAsync(requests[b], auth, cancellationToken: cancellationToken);
            if (reply.Accepted != BatchSize)
            {
                throw new InvalidOperationException($"batch {b}: {reply.Accepted} accepted");
            }
        }));
    }

    private static async Task<double> GrpcStreamsAsync(Uri ingestion, string key, int calls, int concurrency, string prefix, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress(ingestion);
        var client = new IngestService.IngestServiceClient(channel);
        var auth = new Metadata { { "authorization", $"Bearer {key}" } };
        calls += Warmup;
        var events = Enumerable.Range(0, calls).Select(c => Enumerable.Range(0, BatchSize).Select(i => Proto($"{prefix}-{c}-{i}")).ToList()).ToList();
        return await Progress.StepAsync($"{calls} gRPC client streams ({prefix})", () => ThroughputAsync(calls, concurrency, async c =>
        {
            using var call = client.IngestStream(auth, cancellationToken: cancellationToken);
            foreach (var e in events[c])
            {
                await call.RequestStream.WriteAsync(e, cancellationToken);
            }

            await call.RequestStream.CompleteAsync();
            var reply = await call;
            if (reply.Accepted != BatchSize)
            {
                throw new InvalidOperationException($"stream {c}: {reply.Accepted} accepted");
            }
        }));
    }

    /// <summary>Single events, closed loop: <paramref name="concurrency"/> clients each sending the next as soon as the last is acknowledged.</summary>
    private static async Task<double> HttpSinglesAsync(Uri ingestion, string key, int count, int concurrency, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = ingestion };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var bodies = Enumerable.Range(0, count + Warmup).Select(i => Encoding.UTF8.GetBytes(JsonEvent($"{Run}-closed-single-{i}"))).ToList();
        return await Progress.StepAsync($"{count:N0} single events over HTTP, {concurrency} in flight", () => Load.ThroughputAsync(count + Warmup, Warmup, concurrency, 1, async i =>
        {
            using var content = new ByteArrayContent(bodies[i]);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.PostAsync("/v1/events", content, cancellationToken);
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                throw new InvalidOperationException($"single {i}: {(int)response.StatusCode}");
            }
        }));
    }

    /// <summary>
    /// The naive alternative to a log: each event INSERTed into PostgreSQL and committed (fsync on, as the stack
    /// runs it) before the answer, as many in flight.
    /// </summary>
    private static async Task<double> NaivePostgresAsync(PostgresProcess postgres, string tenantId, int count, int concurrency)
    {
        await using var source = NpgsqlDataSource.Create($"{postgres.ConnectionString(ControlPlaneStack.Database)};Maximum Pool Size={concurrency}");
        await using (var create = source.CreateCommand("""
            CREATE TABLE IF NOT EXISTS bench_naive_usage (
                tenant_id text, event_id text, event_time timestamptz, provider text, model text,
                input_tokens bigint, cache_read_tokens bigint, output_tokens bigint, reasoning_tokens bigint, body jsonb,
                PRIMARY KEY (tenant_id, event_id))
            """))
        {
            await create.ExecuteNonQueryAsync();
        }

        return await Progress.StepAsync($"{count:N0} single INSERTs into PostgreSQL, {concurrency} in flight", () => Load.ThroughputAsync(count + Warmup, Warmup, concurrency, 1, async i =>
        {
            await using var insert = source.CreateCommand(
                "INSERT INTO bench_naive_usage VALUES ($1, $2, now(), 'openai', 'gpt-4o', 1200, 200, 300, 20, $3::jsonb)");
            insert.Parameters.AddWithValue(tenantId);
            insert.Parameters.AddWithValue($"naive-{i}");
            insert.Parameters.AddWithValue(JsonEvent($"naive-{i}"));
            await insert.ExecuteNonQueryAsync();
        }));
    }

    private static Task<double> RawXaddAsync(IDatabase db, byte[] payload, int batches, int concurrency) =>
        Progress.StepAsync($"{batches} raw XADD batches", () => ThroughputAsync(batches + Warmup, concurrency, async _ =>
        {
            var adds = new Task[BatchSize];
            for (var i = 0; i < BatchSize; i++)
            {
                adds[i] = db.StreamAddAsync("bench.raw", [new NameValueEntry("k", "t"), new NameValueEntry("v", payload)]);
            }

            await Task.WhenAll(adds);
        }));

    private static async Task<double> RawProduceAsync(string bootstrapServers, string key, byte[] payload, int batches, int concurrency)
    {
        using var producer = new ProducerBuilder<string, byte[]>(KafkaExtensions.CreateProducerConfig(bootstrapServers)).Build();
        return await Progress.StepAsync($"{batches} raw produce batches", () => ThroughputAsync(batches + Warmup, concurrency, async _ =>
        {
            var deliveries = new Task<DeliveryResult<string, byte[]>>[BatchSize];
            for (var i = 0; i < BatchSize; i++)
            {
                deliveries[i] = producer.ProduceAsync("bench.raw", new Message<string, byte[]> { Key = key, Value = payload });
            }

            foreach (var report in await Task.WhenAll(deliveries))
            {
                if (report.Status != PersistenceStatus.Persisted)
                {
                    throw new InvalidOperationException("not persisted");
                }
            }
        }));
    }

    /// <summary>Single events at a steady rate (open loop), each followed by a single XADD when the log's Redis is known; ACK latency of each in ms.</summary>
    /// <returns>The latencies, and how many singles got another answer than 202 (their latency is kept: the client waited that long).</returns>
    private static async Task<(List<double> Singles, List<double> Xadds, int Refused)> SteadySinglesAsync(
        Uri ingestion, string key, int count, int rate, IDatabase? db, byte[] payload, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = ingestion };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var singles = new double[count];
        var xadds = new double[count];
        var refused = 0;
        await Progress.StepAsync($"{count:N0} single events at {rate:N0}/s", async () =>
        {
            await Load.SteadyAsync(count, rate, async index =>
            {
                singles[index] = await Sampling.MillisecondsAsync(async () =>
                {
                    using var content = new StringContent(JsonEvent($"{Run}-single-{index}"), Encoding.UTF8, "application/json");
                    using var response = await http.PostAsync("/v1/events", content, cancellationToken);
                    if (response.StatusCode != HttpStatusCode.Accepted)
                    {
                        Interlocked.Increment(ref refused);
                    }
                });
                if (db is not null)
                {
                    xadds[index] = await Sampling.MillisecondsAsync(() => db.StreamAddAsync("bench.raw", [new NameValueEntry("k", "t"), new NameValueEntry("v", payload)]));
                }
            }, cancellationToken);
            return 0;
        });
        return ([.. singles], db is null ? [] : [.. xadds], refused);
    }

    private static Task<double> ThroughputAsync(int batches, int concurrency, Func<int, Task> batch) =>
        Load.ThroughputAsync(batches, Warmup, concurrency, BatchSize, batch);
}
