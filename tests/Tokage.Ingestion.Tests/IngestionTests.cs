using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using StackExchange.Redis;
using Tokage.Contracts.V1;

namespace Tokage.Ingestion.Tests;

/// <summary>
/// The ingestion service as a process on a real stack (PostgreSQL, Redis, control plane, auth): what it answers,
/// and what it put in the durable log (read back from the Redis stream).
/// </summary>
public sealed class IngestionTests(IngestionTests.Stack stack) : IClassFixture<IngestionTests.Stack>
{
    public sealed class Stack : IAsyncLifetime
    {
        public ControlPlaneStack Services { get; } = new();

        public ServiceProcess Ingestion { get; private set; } = null!;

        public string Key { get; private set; } = null!;

        public string TenantId { get; private set; } = null!;

        public ConnectionMultiplexer Redis { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            await Services.InitializeAsync();
            Ingestion = await Services.StartIngestionAsync();
            var tenant = await Services.CreateTenantAsync("ingest-acme");
            (Key, TenantId) = ((string)tenant["api_key"]!, (string)tenant["tenant_id"]!);
            Redis = await ConnectionMultiplexer.ConnectAsync(Services.Redis.ConnectionString);
        }

        public async Task DisposeAsync()
        {
            await Redis.DisposeAsync();
            await Services.DisposeAsync();
        }

        public HttpClient Client(string? key = null)
        {
            var http = new HttpClient { BaseAddress = Ingestion.HttpUri };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key ?? Key);
            return http;
        }

        /// <summary>The logged events of this test, by event id prefix.</summary>
        public async Task<List<LoggedUsageEvent>> LoggedAsync(string prefix) =>
            (await Redis.GetDatabase().StreamRangeAsync("tokage.usage.v1"))
                .Select(e => LoggedUsageEvent.Parser.ParseFrom((byte[])e["v"]!))
                .Where(e => e.Event.EventId.StartsWith(prefix, StringComparison.Ordinal))
                .ToList();
    }

    private static string Event(string id, long input = 1000, long output = 100, string extra = "", long reasoning = 0) =>
        $"{{\"event_id\": \"{id}\", \"timestamp\": \"{DateTimeOffset.UtcNow.AddSeconds(-5):O}\", \"provider\": \"openai\", \"model\": \"gpt-4o\", " +
        $"\"usage\": {{\"input_tokens\": {input}, \"output_tokens\": {output}, \"reasoning_tokens\": {reasoning}}}{extra}}}";

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task AnEventIsAcceptedOnlyOnceTheLogHasItAndCarriesTheTenantOfTheKey()
    {
        using var http = stack.Client();
        using var response = await http.PostAsync("/v1/events", Json(Event("single-1", extra: ", \"cost_usd\": 99.5, \"user_id\": \"u-1\"")));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(1, (int)body["accepted"]!);
        Assert.Empty(body["rejected"]!.AsArray());
        Assert.Contains("ignored", (string)body["warnings"]![0]!);

        var logged = Assert.Single(await stack.LoggedAsync("single-1"));
        Assert.Equal(stack.TenantId, logged.TenantId);
        Assert.Equal("http", logged.Source);
        Assert.Equal(1u, logged.SchemaVersion);
        Assert.Equal("u-1", logged.Event.UserId);
        Assert.Equal(1000, logged.Event.Usage.InputTokens);
    }

    [Fact]
    public async Task ABatchAcceptsItsGoodEventsAndNamesWhatIsWrongWithTheOthers()
    {
        var batch = $$"""{"events": [{{Event("batch-0")}}, {{Event("batch-1", input: -5)}}, {{Event("batch-2")}}, {{Event("batch-3", output: 10, reasoning: 11)}}, {{Event("batch-4")}}]}""";
        using var http = stack.Client();
        using var response = await http.PostAsync("/v1/events/batch", Json(batch));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(3, (int)body["accepted"]!);
        var rejected = body["rejected"]!.AsArray();
        Assert.Equal([1, 3], rejected.Select(r => (int)r!["index"]!));
        Assert.Equal("batch-1", (string)rejected[0]!["event_id"]!);
        Assert.Equal(("usage.input_tokens", "negative"), ((string)rejected[0]!["errors"]![0]!["field"]!, (string)rejected[0]!["errors"]![0]!["code"]!));
        Assert.Contains(rejected[1]!["errors"]!.AsArray(), e => (string)e!["code"]! == "exceeds_output");

        Assert.Equal(["batch-0", "batch-2", "batch-4"], (await stack.LoggedAsync("batch-")).Select(e => e.Event.EventId).Order());
    }

    [Fact]
    public async Task NothingValidIsA400AndNothingIsLogged()
    {
        using var http = stack.Client();
        using var response = await http.PostAsync("/v1/events/batch", Json($$"""{"events": [{{Event("invalid-0", input: -1)}}, {"event_id": "invalid-1"}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(0, (int)body["accepted"]!);
        Assert.Equal(2, body["rejected"]!.AsArray().Count);
        Assert.Empty(await stack.LoggedAsync("invalid-"));
    }

    [Fact]
    public async Task KeysAreCheckedBeforeAnythingElse()
    {
        using (var none = new HttpClient { BaseAddress = stack.Ingestion.HttpUri })
        using (var response = await none.PostAsync("/v1/events", Json(Event("auth-0"))))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        using (var wrong = stack.Client(Tokage.ApiKeys.ApiKeyFormat.Generate(testMode: false)))
        using (var response = await wrong.PostAsync("/v1/events", Json(Event("auth-1"))))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.DoesNotContain("revoked", await response.Content.ReadAsStringAsync());
        }

        var reader = await stack.Services.PostAsync("/v1/tenants/ingest-acme/keys", new { scopes = new[] { "read" } });
        using (var readOnly = stack.Client((string)reader["api_key"]!))
        using (var response = await readOnly.PostAsync("/v1/events", Json(Event("auth-2"))))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains("'ingest' scope", await response.Content.ReadAsStringAsync());
        }

        using var apiKeyHeader = new HttpClient { BaseAddress = stack.Ingestion.HttpUri };
        apiKeyHeader.DefaultRequestHeaders.Add("x-api-key", stack.Key);
        using (var response = await apiKeyHeader.PostAsync("/v1/events", Json(Event("auth-3"))))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        Assert.Equal(["auth-3"], (await stack.LoggedAsync("auth-")).Select(e => e.Event.EventId));
    }

    [Fact]
    public async Task BadBodiesGetA4xxAndTheServiceStaysUp()
    {
        using var http = stack.Client();
        var cases = new (string What, HttpContent Content, HttpStatusCode Expected)[]
        {
            ("not JSON", Json("{\"events\": [ {\"event_id\": "), HttpStatusCode.BadRequest),
            ("garbage bytes", new ByteArrayContent([0xff, 0xfe, 0x00, 0x13, 0x37]), HttpStatusCode.BadRequest),
            ("invalid UTF-8 in a string", new ByteArrayContent([.. "{\"events\": [{\"event_id\": \""u8, 0xc3, 0x28, .. "\"}]}"u8]), HttpStatusCode.BadRequest),
            ("deeply nested", Json("{\"events\": " + new string('[', 5_000) + new string(']', 5_000) + "}"), HttpStatusCode.BadRequest),
            ("not a batch", Json("[1, 2, 3]"), HttpStatusCode.BadRequest),
            ("empty batch", Json("{\"events\": []}"), HttpStatusCode.BadRequest),
            ("1,001 events", Json("{\"events\": [" + string.Join(",", Enumerable.Range(0, 1_001).Select(i => Event($"big-{i}"))) + "]}"), HttpStatusCode.RequestEntityTooLarge),
            ("over 10 MiB", Json("{\"events\": [" + Event("huge", extra: $", \"metadata\": {{\"x\": \"{new string('x', 11 * 1024 * 1024)}\"}}") + "]}"), HttpStatusCode.RequestEntityTooLarge),
            ("gzip bomb", Gzip(new byte[200 * 1024 * 1024]), HttpStatusCode.RequestEntityTooLarge),
            ("corrupt gzip", GzipHeaderOnly(), HttpStatusCode.BadRequest),
        };
        foreach (var (what, content, expected) in cases)
        {
            using var response = await http.PostAsync("/v1/events/batch", content);
            Assert.True(response.StatusCode == expected, $"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        using var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Empty(await stack.LoggedAsync("big-"));
        Assert.Empty(await stack.LoggedAsync("huge"));

        // And a gzip body that is fine is taken.
        using var zipped = await http.PostAsync("/v1/events/batch", Gzip(Encoding.UTF8.GetBytes($$"""{"events": [{{Event("zipped-0")}}]}""")));
        Assert.Equal(HttpStatusCode.Accepted, zipped.StatusCode);
        Assert.Single(await stack.LoggedAsync("zipped-"));
    }

    [Fact]
    public async Task TheRateLimitIsSharedByEveryIngestionInstance()
    {
        var tenant = await stack.Services.PostAsync("/v1/tenants", new { name = "ingest-limited", rate_limit = new { events_per_second = 1, burst = 10 } });
        var second = await stack.Services.StartIngestionAsync();
        using var first = stack.Client((string)tenant["api_key"]!);
        using var other = new HttpClient { BaseAddress = second.HttpUri };
        other.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)tenant["api_key"]!);
        string Batch(string prefix) => "{\"events\": [" + string.Join(",", Enumerable.Range(0, 9).Select(i => Event($"{prefix}-{i}"))) + "]}";

        using var accepted = await first.PostAsync("/v1/events/batch", Json(Batch("limited-a")));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);

        // Nine more events on the other instance: the same bucket has one left, and refills one a second, so only a gap of
        // 8 s or more (never seen, even on a loaded machine) could let them in.
        using var limited = await other.PostAsync("/v1/events/batch", Json(Batch("limited-b")));
        Assert.Equal((HttpStatusCode)429, limited.StatusCode);
        Assert.True(int.Parse(limited.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Empty(await stack.LoggedAsync("limited-b"));
        Assert.Equal(9, (await stack.LoggedAsync("limited-a")).Count);
    }

    /// <summary>A request takes all its events from the bucket or none: one larger than the burst could never pass, so it is a 400 saying so.</summary>
    [Fact]
    public async Task ABatchLargerThanTheBurstIsA400NotAnEndless429()
    {
        var tenant = await stack.Services.PostAsync("/v1/tenants", new { name = "ingest-burst", rate_limit = new { events_per_second = 5, burst = 10 } });
        using var client = stack.Client((string)tenant["api_key"]!);
        string Batch(string prefix, int count) => "{\"events\": [" + string.Join(",", Enumerable.Range(0, count).Select(i => Event($"{prefix}-{i}"))) + "]}";

        using var tooLarge = await client.PostAsync("/v1/events/batch", Json(Batch("burst-over", 11)));
        using var fits = await client.PostAsync("/v1/events/batch", Json(Batch("burst-fits", 10)));

        Assert.Equal(HttpStatusCode.BadRequest, tooLarge.StatusCode);
        var detail = await tooLarge.Content.ReadAsStringAsync();
        Assert.Contains("burst of 10", detail);
        Assert.Contains("at most 10 events per request", detail);
        Assert.Null(tooLarge.Headers.RetryAfter);
        Assert.Empty(await stack.LoggedAsync("burst-over"));
        Assert.Equal(HttpStatusCode.Accepted, fits.StatusCode);
    }

    /// <summary>A gRPC batch obeys the configured <c>MaxBatchBytes</c>, as an HTTP batch body does (it once took the default).</summary>
    [Fact]
    public async Task AGrpcBatchOverTheConfiguredByteLimitIsRefused()
    {
        var small = await stack.Services.StartIngestionAsync(settings: new Dictionary<string, string> { ["Tokage__Ingest__MaxBatchBytes"] = "4096" });
        using var channel = GrpcChannel.ForAddress(small.GrpcUri);
        var client = new IngestService.IngestServiceClient(channel);
        var auth = new Metadata { { "authorization", $"Bearer {stack.Key}" } };
        TokenUsageEvent Proto(string id) => new()
        {
            EventId = id, Timestamp = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddSeconds(-1)),
            Provider = "openai", Model = "gpt-4o", Usage = new TokenUsage { InputTokens = 100, OutputTokens = 10 },
            Metadata = { ["note"] = new string('x', 900) },
        };

        Assert.Equal(2, (await client.IngestBatchAsync(new IngestBatchRequest { Events = { Proto("limit-1"), Proto("limit-2") } }, auth)).Accepted);
        var request = new IngestBatchRequest();
        request.Events.AddRange(Enumerable.Range(3, 8).Select(i => Proto($"limit-{i}")));
        Assert.True(request.CalculateSize() > 4096);
        var refused = await Assert.ThrowsAsync<RpcException>(() => client.IngestBatchAsync(request, auth).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
    }

    [Fact]
    public async Task OverGrpcTheSameRulesAndAnswers()
    {
        using var channel = GrpcChannel.ForAddress(stack.Ingestion.GrpcUri);
        var client = new IngestService.IngestServiceClient(channel);
        var auth = new Metadata { { "authorization", $"Bearer {stack.Key}" } };
        TokenUsageEvent Proto(string id, long input = 1000) => new()
        {
            EventId = id, Timestamp = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddSeconds(-1)),
            Provider = "anthropic", Model = "claude-sonnet-4-5", Usage = new TokenUsage { InputTokens = input, OutputTokens = 10 },
        };

        var single = await client.IngestAsync(Proto("grpc-0"), auth);
        Assert.Equal(1, single.Accepted);

        var batch = await client.IngestBatchAsync(new IngestBatchRequest { Events = { Proto("grpc-1"), Proto("grpc-2", input: -3), Proto("grpc-3") } }, auth);
        Assert.Equal(2, batch.Accepted);
        var rejection = Assert.Single(batch.Rejected);
        Assert.Equal((1, "usage.input_tokens", "negative"), (rejection.Index, rejection.Errors[0].Field, rejection.Errors[0].Code));

        using (var stream = client.IngestStream(auth))
        {
            for (var i = 4; i < 7; i++)
            {
                await stream.RequestStream.WriteAsync(Proto($"grpc-{i}"));
            }

            await stream.RequestStream.CompleteAsync();
            Assert.Equal(3, (await stream.ResponseAsync).Accepted);
        }

        var none = await Assert.ThrowsAsync<RpcException>(() => client.IngestAsync(Proto("grpc-bad", input: -1), auth).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, none.StatusCode);
        Assert.Contains("usage.input_tokens", none.Status.Detail);
        var anonymous = await Assert.ThrowsAsync<RpcException>(() => client.IngestAsync(Proto("grpc-anon")).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);

        var logged = await stack.LoggedAsync("grpc-");
        Assert.Equal(["grpc-0", "grpc-1", "grpc-3", "grpc-4", "grpc-5", "grpc-6"], logged.Select(e => e.Event.EventId).Order());
        Assert.All(logged, e => Assert.Equal("grpc", e.Source));
    }

    public static TheoryData<string, string, string> GrpcRules => new()
    {
        { "no event_id", "event_id", "required" },
        { "long event_id", "event_id", "too_long" },
        { "no timestamp", "timestamp", "required" },
        { "timestamp ahead", "timestamp", "in_future" },
        { "timestamp old", "timestamp", "too_old" },
        { "no provider", "provider", "required" },
        { "no model", "model", "required" },
        { "no usage", "usage", "required" },
        { "negative output", "usage.output_tokens", "negative" },
        { "cache beyond input", "usage.cache_read_tokens", "exceeds_input" },
        { "reasoning beyond output", "usage.reasoning_tokens", "exceeds_output" },
        { "unknown tier", "service_tier", "unknown_value" },
        { "long team", "team", "too_long" },
        { "many metadata", "metadata", "too_many" },
        { "long metadata value", "metadata.k", "too_long" },
    };

    /// <summary>Each rule over gRPC: the bad event is named, its good neighbour accepted.</summary>
    [Theory]
    [MemberData(nameof(GrpcRules))]
    public async Task OverGrpcEachRuleRejectsOnlyItsEvent(string rule, string field, string code)
    {
        using var channel = GrpcChannel.ForAddress(stack.Ingestion.GrpcUri);
        var client = new IngestService.IngestServiceClient(channel);
        var id = $"rule-{rule.Replace(' ', '-')}";
        TokenUsageEvent Good(string eventId) => new()
        {
            EventId = eventId, Timestamp = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddSeconds(-1)),
            Provider = "openai", Model = "gpt-4o", Usage = new TokenUsage { InputTokens = 100, CacheReadTokens = 50, OutputTokens = 10, ReasoningTokens = 5 },
        };
        var bad = Good($"{id}-bad");
        switch (rule)
        {
            case "no event_id": bad.EventId = ""; break;
            case "long event_id": bad.EventId = new string('x', 129); break;
            case "no timestamp": bad.Timestamp = null; break;
            case "timestamp ahead": bad.Timestamp = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(6)); break;
            case "timestamp old": bad.Timestamp = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(-36)); break;
            case "no provider": bad.Provider = ""; break;
            case "no model": bad.Model = ""; break;
            case "no usage": bad.Usage = null; break;
            case "negative output": bad.Usage.OutputTokens = -1; break;
            case "cache beyond input": bad.Usage.CacheWriteTokens = 51; break;
            case "reasoning beyond output": bad.Usage.ReasoningTokens = 11; break;
            case "unknown tier": bad.ServiceTier = "gold"; break;
            case "long team": bad.Team = new string('t', 257); break;
            case "many metadata": bad.Metadata.Add(Enumerable.Range(0, 33).ToDictionary(i => $"k{i}", _ => "v")); break;
            case "long metadata value": bad.Metadata["k"] = new string('v', 1025); break;
        }

        var reply = await client.IngestBatchAsync(new IngestBatchRequest { Events = { Good($"{id}-good"), bad } },
            new Metadata { { "authorization", $"Bearer {stack.Key}" } });

        Assert.Equal(1, reply.Accepted);
        var rejection = Assert.Single(reply.Rejected);
        Assert.Equal(1, rejection.Index);
        Assert.Contains(rejection.Errors, e => e.Field == field && e.Code == code);
        Assert.Equal([$"{id}-good"], (await stack.LoggedAsync(id)).Select(e => e.Event.EventId));
    }

    private static ByteArrayContent Gzip(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(data);
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentEncoding.Add("gzip");
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static ByteArrayContent GzipHeaderOnly()
    {
        var content = new ByteArrayContent([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xde, 0xad, 0xbe, 0xef]);
        content.Headers.ContentEncoding.Add("gzip");
        return content;
    }
}
