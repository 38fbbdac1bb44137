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

    public static Command CreateCommand()
    {
        var batches = new Option<int>("--batches") { Description = "1,000-event batches per throughput measurement.", DefaultValueFactory = _ => 100 };
        var singles = new Option<int>("--singles") { Description = "Single events sent at --rate for the latency measurement.", DefaultValueFactory = _ => 5_000 };
        var rate = new Option<int>("--rate") { Description = "Single events per second for the latency measurement.", DefaultValueFactory = _ => 1_000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Batches in flight at once.", DefaultValueFactory = _ => 4 };
        var singleConcurrency = new Option<int>("--single-concurrency") { Description = "Single events in flight at once for the closed-loop measurement.", DefaultValueFactory = _ => 16 };
        var quick = new Option<bool>("--quick") { Description = "10 batches, 500 singles: a smoke run." };
        var json = new Option<string>("--json") { Description = "Where the JSON report goes.", DefaultValueFactory = _ => ".tokage/bench/ingest.json" };
        var command = new Command("ingest", "Ingest events/s and ACK latency (HTTP, gRPC; Redis Streams and Kafka) beside the log's own limit.")
        {
            batches, singles, rate, concurrency, singleConcurrency, quick, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var isQuick = parse.GetValue(quick);
            var report = new BenchReport("ingest");
            var load = new Settings(isQuick ? 10 : parse.GetValue(batches), isQuick ? 500 : parse.GetValue(singles), parse.GetValue(rate),
                parse.GetValue(concurrency), parse.GetValue(singleConcurrency));
            await RunAsync(load, report, cancellationToken);
            report.PrintMarkdown(Console.Out);
            await report.WriteJsonAsync(parse.GetValue(json)!);
            return 0;
        });
        return command;
    }

    private sealed record Settings(int Batches, int Singles, int Rate, int Concurrency, int SingleConcurrency);

    private static async Task RunAsync(Settings settings, BenchReport report, CancellationToken cancellationToken)
    {
        var (batches, singles, rate, concurrency) = (settings.Batches, settings.Singles, settings.Rate, settings.Concurrency);
        report.Parameter("single_concurrency", settings.SingleConcurrency);
        report.Parameter("batches", batches);
        report.Parameter("batch_size", BatchSize);
        report.Parameter("singles", singles);
        report.Parameter("single_rate", rate);
        report.Parameter("concurrency", concurrency);

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
            var payload = Logged(tenantId, "payload", 0).ToByteArray();

            // Redis Streams.
            var httpRedis = await HttpBatchesAsync(onRedis.HttpUri, key, batches, concurrency, "redis-http", cancellationToken);
            var xadd = await RawXaddAsync(redis.GetDatabase(), payload, batches, concurrency);
            report.Add(new Measurement($"HTTP batches of {BatchSize:N0}, Redis Streams log", httpRedis, "events/s", "raw pipelined XADD of the same payloads", xadd));
            var grpcRedis = await GrpcBatchesAsync(onRedis.GrpcUri, key, batches, concurrency, "redis-grpc", cancellationToken);
            report.Add(new Measurement($"gRPC IngestBatch of {BatchSize:N0}, Redis Streams log", grpcRedis, "events/s", "raw pipelined XADD of the same payloads", xadd));
            var streamRedis = await GrpcStreamsAsync(onRedis.GrpcUri, key, batches, concurrency, "redis-stream", cancellationToken);
            report.Add(new Measurement($"gRPC IngestStream of {BatchSize:N0} a call, Redis Streams log", streamRedis, "events/s", "raw pipelined XADD of the same payloads", xadd));

            var httpSingles = await HttpSinglesAsync(onRedis.HttpUri, key, singles, settings.SingleConcurrency, cancellationToken);
            var naive = await NaivePostgresAsync(stack.Postgres, tenantId, singles, settings.SingleConcurrency);
            report.Add(new Measurement($"HTTP single events, {settings.SingleConcurrency} in flight, Redis Streams log", httpSingles, "events/s",
                "naive: one INSERT per event into PostgreSQL (fsync on), as many in flight", naive));

            var (singleLatencies, xaddLatencies, refused) = await SteadySinglesAsync(onRedis.HttpUri, key, singles, rate, redis.GetDatabase(), payload, cancellationToken);
            // An overloaded machine can make the log miss its ack timeout (503): counted and reported, not hidden.
            report.Parameter("singles_not_acknowledged", refused);
            report.Add(new Measurement($"HTTP single event ACK at {rate:N0}/s, p50", Statistics.Median(singleLatencies), "ms", "single XADD", Statistics.Median(xaddLatencies)));
            report.Add(new Measurement($"HTTP single event ACK at {rate:N0}/s, p99", Statistics.Percentile(singleLatencies, 99), "ms", "single XADD", Statistics.Percentile(xaddLatencies, 99)));

            // Kafka.
            var httpKafka = await HttpBatchesAsync(onKafka.HttpUri, key, batches, concurrency, "kafka-http", cancellationToken);
            var produce = await RawProduceAsync(cluster.BootstrapServers, tenantId, payload, batches, concurrency);
            report.Add(new Measurement($"HTTP batches of {BatchSize:N0}, Kafka log (mock cluster, acks=all)", httpKafka, "events/s", "raw acks=all produce of the same payloads", produce));
        }
        finally
        {
            await stack.DisposeAsync();
        }
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
        var bodies = Enumerable.Range(0, count + Warmup).Select(i => Encoding.UTF8.GetBytes(JsonEvent($"closed-single-{i}"))).ToList();
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

    /// <summary>Single events at a steady rate (open loop), alternating with a single XADD; ACK latency of each in ms.</summary>
    /// <returns>The latencies, and how many singles got another answer than 202 (their latency is kept: the client waited that long).</returns>
    private static async Task<(List<double> Singles, List<double> Xadds, int Refused)> SteadySinglesAsync(
        Uri ingestion, string key, int count, int rate, IDatabase db, byte[] payload, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = ingestion };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var singles = new double[count];
        var xadds = new double[count];
        var interval = TimeSpan.FromSeconds(1.0 / rate);
        var started = Stopwatch.GetTimestamp();
        var inFlight = new List<Task>(count);
        var refused = 0;
        await Progress.StepAsync($"{count:N0} single events at {rate:N0}/s", async () =>
        {
            for (var i = 0; i < count; i++)
            {
                var due = interval * i;
                var wait = due - Stopwatch.GetElapsedTime(started);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }

                var index = i;
                inFlight.Add(Task.Run(async () =>
                {
                    singles[index] = await Sampling.MillisecondsAsync(async () =>
                    {
                        using var content = new StringContent(JsonEvent($"single-{index}"), Encoding.UTF8, "application/json");
                        using var response = await http.PostAsync("/v1/events", content, cancellationToken);
                        if (response.StatusCode != HttpStatusCode.Accepted)
                        {
                            Interlocked.Increment(ref refused);
                        }
                    });
                    xadds[index] = await Sampling.MillisecondsAsync(() => db.StreamAddAsync("bench.raw", [new NameValueEntry("k", "t"), new NameValueEntry("v", payload)]));
                }, cancellationToken));
            }

            await Task.WhenAll(inFlight);
        });
        return ([.. singles], [.. xadds], refused);
    }

    private static Task<double> ThroughputAsync(int batches, int concurrency, Func<int, Task> batch) =>
        Load.ThroughputAsync(batches, Warmup, concurrency, BatchSize, batch);
}
