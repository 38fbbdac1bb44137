using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Tokage.Analytics;

namespace Tokage.QueryApi.Tests;

/// <summary>
/// The query API as a process on the real stack, over usage rows written straight into ClickHouse for two tenants:
/// breakdowns against an independent computation, timeseries, CSV, the recent-events pages, and tenant isolation.
/// </summary>
public sealed class UsageApiTests(UsageApiTests.Data data) : IClassFixture<UsageApiTests.Data>
{
    public static readonly DateTime Start = new(2026, 10, 1, 0, 0, 0, DateTimeKind.Utc);

    public sealed class Data : IAsyncLifetime
    {
        public ProcessingStack Stack { get; } = new();

        public (string Id, string Key) A { get; private set; }

        public (string Id, string Key) B { get; private set; }

        public List<UsageEventRow> RowsOfA { get; private set; } = [];

        public List<UsageEventRow> RowsOfB { get; private set; } = [];

        public async Task InitializeAsync()
        {
            await Stack.InitializeAsync();
            var a = await Stack.Core.CreateTenantAsync("query-a");
            var b = await Stack.Core.CreateTenantAsync("query-b");
            (A, B) = (((string)a["tenant_id"]!, (string)a["api_key"]!), ((string)b["tenant_id"]!, (string)b["api_key"]!));
            RowsOfA = SyntheticUsage.History(A.Id, 2_000, Start, TimeSpan.FromDays(30), seed: 1);
            var writer = new UsageEventWriter(Stack.Analytics, Options.Create(new AnalyticsOptions()));
            await writer.WriteEventsAsync(RowsOfA);
            RowsOfB = SyntheticUsage.History(B.Id, 500, Start, TimeSpan.FromDays(30), seed: 2);
            await writer.WriteEventsAsync(RowsOfB);
        }

        public Task DisposeAsync() => Stack.DisposeAsync();

        public HttpClient Client(string key) => ProcessingStack.ClientFor(Stack.QueryApi, key);
    }

    private const string Month = "from=2026-10-01T00:00:00Z&to=2026-10-31T00:00:00Z";

    [Fact]
    public async Task ABreakdownByModelEqualsTheSumsOverTheRowsWritten()
    {
        using var client = data.Client(data.A.Key);

        var body = JsonNode.Parse(await client.GetStringAsync($"/v1/usage/breakdown?{Month}&group_by=model"))!;

        var expected = data.RowsOfA.GroupBy(r => r.Model).ToDictionary(g => g.Key, g => (
            Events: (ulong)g.Count(), Input: g.Aggregate(0ul, (s, r) => s + r.InputTokens),
            Cost: g.Any(r => r.Priced) ? g.Where(r => r.Priced).Sum(r => r.CostUsd) : (decimal?)null));
        var rows = body["rows"]!.AsArray();
        Assert.Equal("daily_compact", (string)body["source"]!);
        Assert.Equal(expected.Count, rows.Count);
        foreach (var row in rows)
        {
            var want = expected[(string)row!["model"]!];
            Assert.Equal(want.Events, (ulong)row["events"]!);
            Assert.Equal(want.Input, (ulong)row["input_tokens"]!);
            Assert.Equal(want.Cost, row["cost_usd"] is null ? null : decimal.Parse((string)row["cost_usd"]!, CultureInfo.InvariantCulture));
        }

        Assert.Equal((ulong)data.RowsOfA.Count(r => !r.Priced), (ulong)body["unpriced_events"]!);
    }

    [Fact]
    public async Task AKeySeesOnlyItsTenantWhateverTheFiltersAndTheAdminTokenNamesOne()
    {
        using var b = data.Client(data.B.Key);
        using var admin = new HttpClient { BaseAddress = data.Stack.QueryApi.HttpUri };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ControlPlaneStack.AdminToken);
        var userOfA = data.RowsOfA[0].UserId;
        var eventOfA = data.RowsOfA[0].EventId;

        var ofB = JsonNode.Parse(await b.GetStringAsync($"/v1/usage/breakdown?{Month}"))!;
        var filtered = JsonNode.Parse(await b.GetStringAsync($"/v1/usage/breakdown?{Month}&filter[user]={Uri.EscapeDataString(userOfA)}&tenant={data.A.Id}"))!;
        using var statusOfA = await b.GetAsync($"/v1/events/{Uri.EscapeDataString(eventOfA)}");
        var asOperator = JsonNode.Parse(await admin.GetStringAsync($"/v1/usage/breakdown?{Month}&tenant={data.A.Id}"))!;
        using var operatorWithoutTenant = await admin.GetAsync($"/v1/usage/breakdown?{Month}");

        Assert.Equal(500ul, (ulong)ofB["totals"]!["events"]!);
        // A key's tenant wins over any ?tenant=, and a filter on A's user reads only B's rows of that user.
        Assert.Equal((ulong)data.RowsOfB.Count(r => r.UserId == userOfA), (ulong)filtered["totals"]!["events"]!);
        Assert.Equal(HttpStatusCode.NotFound, statusOfA.StatusCode);
        Assert.Equal((ulong)data.RowsOfA.Count, (ulong)asOperator["totals"]!["events"]!);
        Assert.Equal(HttpStatusCode.BadRequest, operatorWithoutTenant.StatusCode);
    }

    [Fact]
    public async Task ATimeseriesByDayAddsUpToTheBreakdownAndBothComeAsCsv()
    {
        using var client = data.Client(data.A.Key);

        var series = JsonNode.Parse(await client.GetStringAsync($"/v1/usage/timeseries?interval=day&{Month}&group_by=team"))!;
        var breakdown = JsonNode.Parse(await client.GetStringAsync($"/v1/usage/breakdown?{Month}&group_by=team"))!;
        var csv = await client.GetStringAsync($"/v1/usage/breakdown?{Month}&group_by=team&format=csv");

        foreach (var team in breakdown["rows"]!.AsArray().Select(t => t!))
        {
            var points = series["series"]!.AsArray().Single(s => (string)s!["team"]! == (string)team["team"]!)!["points"]!.AsArray();
            Assert.Equal((ulong)team["events"]!, points.Aggregate(0ul, (sum, p) => sum + (ulong)p!["events"]!));
            Assert.All(points, p => Assert.Matches(@"^2026-10-\d\d$", (string)p!["day"]!));
        }

        var lines = csv.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.StartsWith("team,events,unpriced_events,input_tokens", lines[0]);
        Assert.Equal(breakdown["rows"]!.AsArray().Count + 1, lines.Count);
        var firstCost = (string?)breakdown["rows"]![0]!["cost_usd"] ?? "";
        Assert.EndsWith($",{firstCost},{(string)breakdown["rows"]![0]!["adjustments_usd"]!}", lines[1]);
    }

    [Fact]
    public async Task TheGrpcQueryServiceGivesTheRestNumbers()
    {
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(data.Stack.QueryApi.GrpcUri);
        var client = new Tokage.Contracts.V1.QueryService.QueryServiceClient(channel);
        var auth = new Grpc.Core.Metadata { { "authorization", $"Bearer {data.A.Key}" } };
        var request = new Tokage.Contracts.V1.BreakdownRequest
        {
            From = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(Start), To = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(Start.AddDays(30)),
            GroupBy = { "model" }, Filters = { ["team"] = "ml" },
        };
        using var rest = data.Client(data.A.Key);

        var grpc = await client.BreakdownAsync(request, auth);
        var json = JsonNode.Parse(await rest.GetStringAsync($"/v1/usage/breakdown?{Month}&group_by=model&filter[team]=ml"))!;
        var daily = await client.BreakdownAsync(new Tokage.Contracts.V1.BreakdownRequest(request) { Interval = "day" }, auth);
        var status = await client.GetEventStatusAsync(new Tokage.Contracts.V1.GetEventStatusRequest { EventId = data.RowsOfA[0].EventId }, auth);
        var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => client.BreakdownAsync(request).ResponseAsync);
        var invalid = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => client.BreakdownAsync(new Tokage.Contracts.V1.BreakdownRequest(request) { GroupBy = { "colour" } }, auth).ResponseAsync);

        Assert.Equal((ulong)json["totals"]!["events"]!, grpc.Totals.Events);
        Assert.Equal((string?)json["totals"]!["cost_usd"] ?? "", grpc.Totals.CostUsd);
        Assert.Equal(json["rows"]!.AsArray().Count, grpc.Rows.Count);
        Assert.Equal(grpc.Totals.Events, daily.Rows.Aggregate(0ul, (sum, r) => sum + r.Events));
        Assert.All(daily.Rows, r => Assert.True(r.Keys.ContainsKey("day")));
        Assert.Equal("processed", status.Status);
        Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, invalid.StatusCode);
    }

    [Fact]
    public async Task AnEntitlementCheckDeniesOnlyOnceAHardLimitIsSpent()
    {
        var tenant = await data.Stack.Core.CreateTenantAsync("entitled-" + Guid.NewGuid().ToString("N")[..6]);
        var (id, key) = ((string)tenant["tenant_id"]!, (string)tenant["api_key"]!);
        var writer = new UsageEventWriter(data.Stack.Analytics, Options.Create(new AnalyticsOptions()));
        var now = DateTime.UtcNow;
        await writer.WriteEventsAsync([.. Enumerable.Range(0, 5).Select(i => new UsageEventRow
        {
            TenantId = id, EventId = $"spend-{i}", EventTime = now.AddSeconds(-1 - i), IngestTime = now, Provider = "openai", Model = "gpt-4o",
            Team = "cx", Priced = true, CostUsd = 0.5m, InputTokens = 1_000,
        })]);
        await data.Stack.Core.PostAsync($"/v1/tenants/{id}/budgets", new { name = "cx-cap", scope = new { kind = "team", value = "cx" }, period = "monthly", amount_usd = "2", hard_limit = true });
        await data.Stack.Core.PostAsync($"/v1/tenants/{id}/budgets", new { name = "company", period = "monthly", amount_usd = "100" });
        using var client = data.Client(key);
        using var other = data.Client(data.B.Key);

        var cx = await CheckAsync(client, new { scope = new { kind = "team", value = "cx" } });
        var ml = await CheckAsync(client, new { scope = new { kind = "team", value = "ml" } });
        var otherTenant = await CheckAsync(other, new { scope = new { kind = "team", value = "cx" } });
        using var invalid = await client.PostAsJsonAsync("/v1/entitlements/check", new { scope = new { kind = "galaxy" } });

        Assert.False((bool)cx["allowed"]!);
        var cap = cx["budgets"]!.AsArray().Single(b => (string)b!["name"]! == "cx-cap")!;
        Assert.Equal(("2", "2.5", "0", true), ((string)cap["amount_usd"]!, (string)cap["spend_usd"]!, (string)cap["remaining_usd"]!, (bool)cap["exceeded"]!));
        var company = cx["budgets"]!.AsArray().Single(b => (string)b!["name"]! == "company")!;
        Assert.Equal(("2.5", "97.5"), ((string)company["spend_usd"]!, (string)company["remaining_usd"]!));
        Assert.True((bool)ml["allowed"]!);
        Assert.Equal(["company"], ml["budgets"]!.AsArray().Select(b => (string)b!["name"]!));
        Assert.True((bool)otherTenant["allowed"]!);
        Assert.Empty(otherTenant["budgets"]!.AsArray());
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
    }

    /// <summary>An e-mail-like user is stored pseudonymised; whoever names the user as the app sends it still finds her usage.</summary>
    [Fact]
    public async Task AUserNamedAsTheAppSendsItFindsThePseudonymisedRows()
    {
        var tenant = await data.Stack.Core.CreateTenantAsync("pii-" + Guid.NewGuid().ToString("N")[..6]);
        var (id, key) = ((string)tenant["tenant_id"]!, (string)tenant["api_key"]!);
        var stored = Tokage.Analytics.Privacy.PersonalValues.Pseudonym(ControlPlaneStack.PiiHashKey, id, "bob@example.com");
        var now = DateTime.UtcNow;
        await new UsageEventWriter(data.Stack.Analytics, Options.Create(new AnalyticsOptions())).WriteEventsAsync([.. Enumerable.Range(0, 5).Select(i => new UsageEventRow
        {
            TenantId = id, EventId = $"bob-{i}", EventTime = now.AddSeconds(-1 - i), IngestTime = now, Provider = "openai", Model = "gpt-4o",
            UserId = stored, Priced = true, CostUsd = 0.5m, InputTokens = 1_000,
        })]);
        await data.Stack.Core.PostAsync($"/v1/tenants/{id}/budgets", new { name = "bob-cap", scope = new { kind = "user", value = "bob@example.com" }, period = "monthly", amount_usd = "2", hard_limit = true });
        using var client = data.Client(key);

        var range = $"from={Uri.EscapeDataString(now.AddHours(-1).ToString("O"))}&to={Uri.EscapeDataString(now.AddMinutes(1).ToString("O"))}";
        var breakdown = JsonNode.Parse(await client.GetStringAsync($"/v1/usage/breakdown?{range}&filter[user]=bob%40example.com"))!;
        var events = JsonNode.Parse(await client.GetStringAsync($"/v1/events?{range}&filter[user]=bob%40example.com"))!;
        var check = await CheckAsync(client, new { scope = new { kind = "user", value = "bob@example.com" } });

        Assert.Equal(5UL, (ulong)breakdown["totals"]!["events"]!);
        Assert.Equal(5, events["events"]!.AsArray().Count);
        Assert.All(events["events"]!.AsArray(), e => Assert.Equal(stored, (string)e!["user_id"]!));
        Assert.False((bool)check["allowed"]!);
        Assert.Equal("2.5", (string)check["budgets"]![0]!["spend_usd"]!);
    }

    private static async Task<JsonNode> CheckAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync("/v1/entitlements/check", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    [Fact]
    public async Task RecentEventsComePageByPageNewestFirstWithNoRowTwice()
    {
        using var client = data.Client(data.A.Key);
        var seen = new List<(DateTimeOffset Time, string Id)>();
        string? cursor = null;
        do
        {
            var page = JsonNode.Parse(await client.GetStringAsync($"/v1/events?{Month}&limit=300&filter[team]=cx" + (cursor is null ? "" : $"&cursor={cursor}")))!;
            seen.AddRange(page["events"]!.AsArray().Select(e => ((DateTimeOffset)e!["event_time"]!, (string)e["event_id"]!)));
            cursor = (string?)page["next_cursor"];
        }
        while (cursor is not null);

        var expected = data.RowsOfA.Where(r => r.Team == "cx" && r.EventTime < new DateTime(2026, 10, 31, 0, 0, 0, DateTimeKind.Utc)).ToList();
        Assert.Equal(expected.Count, seen.Count);
        Assert.Equal(expected.Count, seen.Select(s => s.Id).Distinct().Count());
        Assert.Equal(seen.OrderByDescending(s => s.Time).ThenByDescending(s => s.Id, StringComparer.Ordinal).Select(s => s.Id), seen.Select(s => s.Id));
        using var badCursor = await client.GetAsync($"/v1/events?cursor=not-a-cursor");
        Assert.Equal(HttpStatusCode.BadRequest, badCursor.StatusCode);
    }

    /// <summary>
    /// One tenant's raw scan (a 400-day range not on whole hours, by user, over 600,000 rows of its own) is stopped at
    /// the reader's time limit with a 422 naming the setting; its queries beyond the per-tenant cap are refused at once
    /// with 429 and Retry-After; another tenant's query on the same instance answers all the while, exactly.
    /// </summary>
    [Fact]
    public async Task AnExpensiveScanIsStoppedAndATenantsQueriesAtOnceAreCappedWhileAnotherTenantIsAnswered()
    {
        var heavy = await data.Stack.Core.CreateTenantAsync("query-heavy");
        var (heavyId, heavyKey) = ((string)heavy["tenant_id"]!, (string)heavy["api_key"]!);
        await data.Stack.Analytics.ExecuteNonQueryAsync($"""
            INSERT INTO usage_events (tenant_id, event_id, event_time, ingest_time, ingest_version, source, provider, model, user_id,
                                      input_tokens, output_tokens, priced, cost_usd, classification)
            SELECT '{heavyId}', concat('heavy-', toString(number)),
                   toDateTime64('2025-09-01 00:00:00', 3, 'UTC') + toIntervalSecond(number * 17 % 34560000), now64(3), 1, 'native',
                   'openai', concat('m-', toString(number % 97)), concat('pii:u-', toString(number % 5003)),
                   number % 1000, number % 300, true, toDecimal128(number % 1000, 18) / 1000000, 'STANDARD'
            FROM numbers(600000)
            """);
        await using var limited = await data.Stack.StartQueryApiAsync(new Dictionary<string, string>
        {
            ["Tokage__QueryApi__MaxExecutionTime"] = "00:00:00.05",
            ["Tokage__QueryApi__MaxConcurrentQueriesPerTenant"] = "1",
        });
        const string Scan = "/v1/usage/breakdown?from=2025-09-01T00:00:01Z&to=2026-10-05T00:00:00Z&group_by=user";

        using var heavyClient = ProcessingStack.ClientFor(limited, heavyKey);
        using (var stopped = await heavyClient.GetAsync(Scan))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, stopped.StatusCode);
            Assert.Contains("Tokage:QueryApi:MaxExecutionTime", await stopped.Content.ReadAsStringAsync());
        }

        // Eight at once: the one that gets the tenant's slot is stopped at the limit, the rest are refused without running.
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            using var response = await heavyClient.GetAsync(Scan);
            return (response.StatusCode, RetryAfter: response.Headers.RetryAfter?.Delta, Body: await response.Content.ReadAsStringAsync());
        }).Append(Task.Run(async () =>
        {
            // The other tenant is never refused for the heavy tenant's cap. Its small query runs under the same 50 ms
            // reader limit, which a loaded machine can overrun, so a time-limit answer (never a 429) is asked again.
            using var other = ProcessingStack.ClientFor(limited, data.B.Key);
            for (var attempt = 1; ; attempt++)
            {
                using var response = await other.GetAsync($"/v1/usage/breakdown?{Month}&group_by=model");
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.UnprocessableEntity || attempt == 5)
                    return (response.StatusCode, RetryAfter: (TimeSpan?)null, Body: body);
                Assert.Contains("Tokage:QueryApi:MaxExecutionTime", body);
            }
        })));

        var ofHeavy = answers[..8];
        Assert.All(ofHeavy, a => Assert.Contains(a.StatusCode, new[] { HttpStatusCode.UnprocessableEntity, HttpStatusCode.TooManyRequests }));
        Assert.Contains(ofHeavy, a => a.StatusCode == HttpStatusCode.UnprocessableEntity);
        var refused = Assert.Single(ofHeavy.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).Take(1));
        Assert.Equal(TimeSpan.FromSeconds(1), refused.RetryAfter);
        Assert.Contains("MaxConcurrentQueriesPerTenant", refused.Body);

        var (status, _, body) = answers[8];
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((ulong)data.RowsOfB.Count, (ulong)JsonNode.Parse(body)!["totals"]!["events"]!);
    }

    /// <summary>
    /// A hard-limit budget with room for exactly ten reservations: fifty concurrent reservations, each on its own
    /// connection, get exactly ten grants; a repeat of an id gets its first answer; a check counts the held room. The
    /// granted calls' events (native, naming their reservation) settle them: no room is held any more and the spend is
    /// the settled events' own cost. A released reservation frees its room at once.
    /// </summary>
    [Fact]
    public async Task FiftyConcurrentReservationsGetExactlyTheTenTheBudgetHasRoomForAndTheirEventsSettleThem()
    {
        var tenant = await data.Stack.Core.CreateTenantAsync("reserve-" + Guid.NewGuid().ToString("N")[..6]);
        var (id, key) = ((string)tenant["tenant_id"]!, (string)tenant["api_key"]!);
        await data.Stack.Core.PostAsync($"/v1/tenants/{id}/budgets", new { name = "agents-cap", scope = new { kind = "team", value = "agents" }, period = "monthly", amount_usd = "0.5", hard_limit = true });
        var scope = new { kind = "team", value = "agents" };

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            using var own = data.Client(key);
            using var response = await own.PostAsJsonAsync("/v1/entitlements/reserve", new { scope, estimated_cost_usd = "0.05", ttl_seconds = 600, reservation_id = $"r-{i}" });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        }));

        var granted = answers.Where(a => (bool)a["granted"]!).Select(a => (string)a["reservation_id"]!).ToList();
        Assert.Equal(10, granted.Count);
        Assert.All(answers.Where(a => !(bool)a["granted"]!), a => Assert.Equal(["agents-cap"], a["limited_by"]!.AsArray().Select(n => (string)n!)));
        using var client = data.Client(key);
        var held = (await CheckAsync(client, new { scope }))["budgets"]!.AsArray().Single()!;
        Assert.Equal(("0", "0.5", "0", true), ((string)held["spend_usd"]!, (string)held["reserved_usd"]!, (string)held["remaining_usd"]!, (bool)held["exceeded"]!));
        using (var repeat = await client.PostAsJsonAsync("/v1/entitlements/reserve", new { scope, estimated_cost_usd = "0.05", reservation_id = granted[0] }))
        {
            Assert.True((bool)JsonNode.Parse(await repeat.Content.ReadAsStringAsync())!["granted"]!);
        }

        using (var conflict = await client.PostAsJsonAsync("/v1/entitlements/reserve", new { scope, estimated_cost_usd = "0.07", reservation_id = granted[0] }))
        {
            Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        }

        using (var huge = await client.PostAsJsonAsync("/v1/entitlements/reserve", new { scope, estimated_cost_usd = "1e20" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, huge.StatusCode);
        }

        using (var invalid = await client.PostAsJsonAsync("/v1/entitlements/reserve", new { scope, ttl_seconds = 0 }))
        {
            var problem = await invalid.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
            Assert.Contains("estimated_cost_usd", problem);
            Assert.Contains("ttl_seconds", problem);
        }

        // Each granted call reports its usage with its reservation: stored, the reservations settle.
        using var ingest = ProcessingStack.ClientFor(data.Stack.Ingestion, key);
        foreach (var reservation in granted)
        {
            using var accepted = await ingest.PostAsJsonAsync("/v1/events", new
            {
                event_id = "call-" + reservation, timestamp = DateTimeOffset.UtcNow.AddSeconds(-1), provider = "openai", model = "gpt-4o",
                usage = new { input_tokens = 1_000, output_tokens = 500 }, team = "agents", reservation_id = reservation,
            });
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        await data.Stack.WaitUntilStoredAndCommittedAsync(id, 10, TimeSpan.FromSeconds(60));
        var settledSpend = await data.Stack.SumAsync("SELECT sum(cost_usd) FROM usage_events FINAL WHERE tenant_id = {tenant:String}", id);
        Assert.True(settledSpend > 0m);
        JsonNode? settled = null;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            settled = (await CheckAsync(client, new { scope }))["budgets"]!.AsArray().Single()!;
            return (string)settled["reserved_usd"]! == "0";
        }, TimeSpan.FromSeconds(30), "the events settle their reservations");
        Assert.Equal(Money(settledSpend), (string)settled!["spend_usd"]!);
        Assert.Equal(Money(0.5m - settledSpend), (string)settled["remaining_usd"]!);

        // Held, then released: the room is back at once.
        using (var one = await client.PostAsJsonAsync("/v1/entitlements/reserve", new { scope, estimated_cost_usd = "0.3", reservation_id = "released" }))
        {
            Assert.True((bool)JsonNode.Parse(await one.Content.ReadAsStringAsync())!["granted"]!);
        }

        Assert.Equal(Money(0.3m), (string)(await CheckAsync(client, new { scope }))["budgets"]![0]!["reserved_usd"]!);
        using (var release = await client.DeleteAsync("/v1/entitlements/reservations/released"))
        {
            Assert.Equal(HttpStatusCode.NoContent, release.StatusCode);
        }

        Assert.Equal("0", (string)(await CheckAsync(client, new { scope }))["budgets"]![0]!["reserved_usd"]!);
        using var unknown = await client.DeleteAsync("/v1/entitlements/reservations/never-made");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    private static string Money(decimal amount) => amount.ToString("0.##################", CultureInfo.InvariantCulture);
}
