using System.Net;
using System.Net.Http.Headers;
using System.Text;
using StackExchange.Redis;
using Tokage.Contracts.V1;

namespace Tokage.Ingestion.Tests;

/// <summary>The 202-after-ack contract: when the log does not acknowledge, the client gets 503, not 202, and nothing is claimed.</summary>
public sealed class DurabilityTests(ControlPlaneStack stack) : IClassFixture<ControlPlaneStack>
{
    private static StringContent Event(string id) => new(
        $"{{\"event_id\": \"{id}\", \"timestamp\": \"{DateTimeOffset.UtcNow:O}\", \"provider\": \"openai\", \"model\": \"gpt-4o\", " +
        "\"usage\": {\"input_tokens\": 10, \"output_tokens\": 1}}",
        Encoding.UTF8, "application/json");

    [Fact]
    public async Task OnKafkaABrokerThatCannotSatisfyAcksAllGives503AndAcknowledgedEventsAreAllThere()
    {
        using var cluster = new KafkaMockCluster();
        var ingestion = await stack.StartIngestionAsync($"Transport=Kafka;BootstrapServers={cluster.BootstrapServers}", new Dictionary<string, string>
        {
            ["Tokage__EventLog__AckTimeout"] = "00:00:03",
            ["Tokage__Kafka__Producer__message.timeout.ms"] = "1500",
        });
        var tenant = await stack.CreateTenantAsync("durable-kafka");
        using var http = new HttpClient { BaseAddress = ingestion.HttpUri };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)tenant["api_key"]!);

        using (var before = await http.PostAsync("/v1/events", Event("kafka-before")))
        {
            Assert.Equal(HttpStatusCode.Accepted, before.StatusCode);
        }

        cluster.FailProduceRequests(KafkaMockCluster.NotEnoughReplicas, 10_000);
        using (var refused = await http.PostAsync("/v1/events", Event("kafka-refused")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
        }

        cluster.ClearProduceErrors();
        using (var after = await http.PostAsync("/v1/events", Event("kafka-after")))
        {
            Assert.Equal(HttpStatusCode.Accepted, after.StatusCode);
        }

        using var consumer = new Confluent.Kafka.ConsumerBuilder<string, byte[]>(new Confluent.Kafka.ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers, GroupId = "check", AutoOffsetReset = Confluent.Kafka.AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe("tokage.usage.v1");
        var ids = new HashSet<string>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!(ids.Contains("kafka-before") && ids.Contains("kafka-after")) && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is { } result)
            {
                var logged = LoggedUsageEvent.Parser.ParseFrom(result.Message.Value);
                Assert.Equal((string)tenant["tenant_id"]!, result.Message.Key);
                ids.Add(logged.Event.EventId);
            }
        }

        consumer.Close();
        Assert.Contains("kafka-before", ids);
        Assert.Contains("kafka-after", ids);
    }

    /// <summary>
    /// On Kafka, Redis (the shared rate-limit buckets) gone: the configured fallback decides. Each request carries the
    /// tenant's whole burst, so a second one within the second is over the limit.
    /// </summary>
    [Fact]
    public async Task WithRedisDownTheRateLimitFallsBackAsConfigured()
    {
        using var cluster = new KafkaMockCluster();
        var log = $"Transport=Kafka;BootstrapServers={cluster.BootstrapServers}";
        var modes = new[] { "LocalBucket", "FailOpen", "FailClosed" };
        var ingestions = new Dictionary<string, ServiceProcess>();
        foreach (var mode in modes)
        {
            ingestions[mode] = await stack.StartIngestionAsync(log, new Dictionary<string, string>
            {
                ["Tokage__Ingest__RateLimitWhenRedisDown"] = mode,
                ["Tokage__EventLog__AckTimeout"] = "00:00:05",
            });
        }

        var tenant = await stack.PostAsync("/v1/tenants", new { name = "limits-without-redis", rate_limit = new { events_per_second = 1, burst = 5 } });
        var key = (string)tenant["api_key"]!;
        // Each ingestion resolves the key once while Redis is up (auth answers from PostgreSQL either way).
        foreach (var ingestion in ingestions.Values)
        {
            using var warm = await SendAsync(ingestion, key, 1, "warm");
            Assert.Equal(HttpStatusCode.Accepted, warm.StatusCode);
        }

        await stack.Redis.StopAsync();
        var answers = new Dictionary<string, (HttpStatusCode First, HttpStatusCode Second, string Detail)>();
        var readiness = new Dictionary<string, HttpStatusCode>();
        try
        {
            foreach (var (mode, ingestion) in ingestions)
            {
                using (var http = new HttpClient { BaseAddress = ingestion.HttpUri })
                using (var health = await http.GetAsync("health"))
                {
                    readiness[mode] = health.StatusCode;
                }

                using var first = await SendAsync(ingestion, key, 5, mode + "-1");
                using var second = await SendAsync(ingestion, key, 5, mode + "-2");
                answers[mode] = (first.StatusCode, second.StatusCode, await first.Content.ReadAsStringAsync() + await second.Content.ReadAsStringAsync());
                Assert.True(first.StatusCode == HttpStatusCode.Accepted || first.Headers.RetryAfter is not null, $"{mode}: a refusal without Retry-After");
            }
        }
        finally
        {
            await stack.Redis.RestartAsync();
        }

        // In memory, this instance still holds the tenant to its burst; open admits both; closed admits nothing and says why.
        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.TooManyRequests), (answers["LocalBucket"].First, answers["LocalBucket"].Second));
        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.Accepted), (answers["FailOpen"].First, answers["FailOpen"].Second));
        Assert.Equal((HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable), (answers["FailClosed"].First, answers["FailClosed"].Second));
        Assert.Contains("RateLimitWhenRedisDown", answers["FailClosed"].Detail);

        // Ready while a fallback serves; not ready when the limiter refuses everything without Redis.
        Assert.Equal(HttpStatusCode.OK, readiness["LocalBucket"]);
        Assert.Equal(HttpStatusCode.OK, readiness["FailOpen"]);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, readiness["FailClosed"]);
    }

    private static async Task<HttpResponseMessage> SendAsync(ServiceProcess ingestion, string key, int events, string prefix)
    {
        using var http = new HttpClient { BaseAddress = ingestion.HttpUri, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var batch = string.Join(",", Enumerable.Range(0, events).Select(i =>
            $"{{\"event_id\": \"{prefix}-{i}-{Guid.NewGuid():N}\", \"timestamp\": \"{DateTimeOffset.UtcNow:O}\", \"provider\": \"openai\", \"model\": \"gpt-4o\", " +
            "\"usage\": {\"input_tokens\": 10, \"output_tokens\": 1}}"));
        return await http.PostAsync("/v1/events/batch", new StringContent($"{{\"events\": [{batch}]}}", Encoding.UTF8, "application/json"));
    }

    [Fact]
    public async Task OnRedisStreamsALogThatIsGoneGives503()
    {
        var ingestion = await stack.StartIngestionAsync(settings: new Dictionary<string, string> { ["Tokage__EventLog__AckTimeout"] = "00:00:03" });
        var tenant = await stack.CreateTenantAsync("durable-redis");
        using var http = new HttpClient { BaseAddress = ingestion.HttpUri };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)tenant["api_key"]!);
        using (var before = await http.PostAsync("/v1/events", Event("redis-before")))
        {
            Assert.Equal(HttpStatusCode.Accepted, before.StatusCode);
        }

        await stack.Redis.StopAsync();
        try
        {
            using var refused = await http.PostAsync("/v1/events", Event("redis-refused"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
        }
        finally
        {
            await stack.Redis.RestartAsync();
        }

        await using var redis = await ConnectionMultiplexer.ConnectAsync(stack.Redis.ConnectionString);
        var ids = (await redis.GetDatabase().StreamRangeAsync("tokage.usage.v1"))
            .Select(e => LoggedUsageEvent.Parser.ParseFrom((byte[])e["v"]!).Event.EventId).ToList();
        Assert.Contains("redis-before", ids);
        Assert.DoesNotContain("redis-refused", ids);
    }

    /// <summary>OTLP with Redis gone (usage ancestry lives there): a retryable 503 / UNAVAILABLE, never a 500 exporters drop.</summary>
    [Fact]
    public async Task OtlpWithRedisGoneIsRetryable()
    {
        var ingestion = await stack.StartIngestionAsync(settings: new Dictionary<string, string> { ["Tokage__EventLog__AckTimeout"] = "00:00:03" });
        var tenant = await stack.CreateTenantAsync("durable-otlp");
        var key = (string)tenant["api_key"]!;
        using var http = new HttpClient { BaseAddress = ingestion.HttpUri };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        StringContent Export(string spanId) => new($$$"""
            {"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"{{{Guid.NewGuid():N}}}","spanId":"{{{spanId}}}","name":"chat",
              "endTimeUnixNano":"{{{DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeMilliseconds() * 1_000_000}}}",
              "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.provider.name","value":{"stringValue":"openai"}},
                {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":10}}]}]}]}]}
            """, Encoding.UTF8, "application/json");
        using (var before = await http.PostAsync("/v1/traces", Export("00000000000000a1")))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        await stack.Redis.StopAsync();
        try
        {
            using var refused = await http.PostAsync("/v1/traces", Export("00000000000000a3"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);

            using var channel = global::Grpc.Net.Client.GrpcChannel.ForAddress(ingestion.GrpcUri);
            var client = new OpenTelemetry.Proto.Collector.Trace.V1.TraceService.TraceServiceClient(channel);
            var error = await Assert.ThrowsAsync<global::Grpc.Core.RpcException>(async () => await client.ExportAsync(
                Tokage.Otlp.OtlpJson.ParseTraceRequest(Encoding.UTF8.GetBytes(await Export("00000000000000a4").ReadAsStringAsync())),
                new global::Grpc.Core.Metadata { { "authorization", $"Bearer {key}" } }));
            Assert.Equal(global::Grpc.Core.StatusCode.Unavailable, error.StatusCode);
        }
        finally
        {
            await stack.Redis.RestartAsync();
        }
    }
}
