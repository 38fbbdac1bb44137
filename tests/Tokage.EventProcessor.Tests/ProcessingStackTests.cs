using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tokage.EventProcessor.Tests;

/// <summary>
/// The processor as a process among the real services: an event from the front door to its status in the query
/// API; kill -9 between the ClickHouse write and the commit; ClickHouse down during a stream.
/// </summary>
public sealed class ProcessingStackTests(ProcessingStack stack) : IClassFixture<ProcessingStack>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>
    /// An audio call priced at the model's audio rates (the shipped gpt-4o-audio-preview: audio in 4e-5, out 8e-5 per
    /// token, text 2.5e-6 and 1e-5), its modality counts stored beside the totals. At text rates it would cost 0.0055.
    /// </summary>
    [Fact]
    public async Task AnAudioCallIsPricedAtItsAudioRatesAndItsAudioCountsAreStored()
    {
        var tenant = await stack.Core.CreateTenantAsync("audio-" + Guid.NewGuid().ToString("N")[..8]);
        var (id, key) = ((string)tenant["tenant_id"]!, (string)tenant["api_key"]!);
        using var ingest = ProcessingStack.ClientFor(stack.Ingestion, key);
        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        var eventId = "voice-" + Guid.NewGuid().ToString("N");

        using (var accepted = await ingest.PostAsJsonAsync("/v1/events", new
        {
            event_id = eventId, timestamp = DateTimeOffset.UtcNow.AddSeconds(-5), provider = "openai", model = "gpt-4o-audio-preview",
            usage = new { input_tokens = 1_000, audio_input_tokens = 800, output_tokens = 300, audio_output_tokens = 250 },
        }))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        JsonNode? status = null;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            using var response = await query.GetAsync($"/v1/events/{eventId}");
            status = response.StatusCode == HttpStatusCode.OK ? JsonNode.Parse(await response.Content.ReadAsStringAsync()) : null;
            return (string?)status?["status"] == "processed";
        }, Patience, "the audio event is processed");

        // 200 text in × 2.5e-6 + 800 audio in × 4e-5 + 50 text out × 1e-5 + 250 audio out × 8e-5
        Assert.Equal("0.053", (string)status!["processed"]!["cost_usd"]!);
        Assert.Equal(800UL, await stack.CountAsync("SELECT sum(audio_input_tokens) FROM usage_events FINAL WHERE tenant_id = {tenant:String}", id));
        Assert.Equal(250UL, await stack.CountAsync("SELECT sum(audio_output_tokens) FROM usage_events FINAL WHERE tenant_id = {tenant:String}", id));

        // A breakdown shows the audio inside the totals, from the raw rows and from a rollup alike.
        foreach (var (source, totals) in await BreakdownsAsync(query))
        {
            Assert.Equal((1000UL, 800UL, 300UL, 250UL, 0UL), ((ulong)totals["input_tokens"]!, (ulong)totals["audio_input_tokens"]!,
                (ulong)totals["output_tokens"]!, (ulong)totals["audio_output_tokens"]!, (ulong)totals["image_input_tokens"]!));
            Assert.True(source is "raw" or "hourly", source);
        }
    }

    /// <summary>
    /// A key scoped to a project ingests that project's usage only (an event naming none gets it; one naming another is
    /// refused) and reads only it: breakdowns and recent events are narrowed, asking for another project is a 403, and
    /// the reads that cannot be narrowed (one event's status, the control plane) refuse the key.
    /// </summary>
    [Fact]
    public async Task AKeyScopedToAProjectIngestsAndReadsThatProjectOnly()
    {
        var tenant = await stack.Core.CreateTenantAsync("scoped-" + Guid.NewGuid().ToString("N")[..8]);
        var (id, tenantKey) = ((string)tenant["tenant_id"]!, (string)tenant["api_key"]!);
        var scoped = (string)(await stack.Core.PostAsync($"/v1/tenants/{id}/keys",
            new { name = "checkout-only", scopes = new[] { "ingest", "read" }, scope = new { kind = "project", value = "checkout" } }))["api_key"]!;
        using (var wider = await stack.Core.Admin.PostAsJsonAsync($"/v1/tenants/{id}/keys", new { scopes = new[] { "admin" }, scope = new { kind = "project", value = "checkout" } }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wider.StatusCode);
        }

        var at = DateTimeOffset.UtcNow.AddSeconds(-5);
        Dictionary<string, object> Event(string eventId, string? project)
        {
            var usage = new Dictionary<string, object>
            {
                ["event_id"] = eventId, ["timestamp"] = at, ["provider"] = "openai", ["model"] = "gpt-4o", ["usage"] = new { input_tokens = 1_000, output_tokens = 100 },
            };
            if (project is not null)
            {
                usage["project"] = project;
            }

            return usage;
        }

        using var ingestScoped = ProcessingStack.ClientFor(stack.Ingestion, scoped);
        using (var batch = await ingestScoped.PostAsJsonAsync("/v1/events/batch", new { events = new[] { Event("s-none", null), Event("s-own", "checkout"), Event("s-other", "search") } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
            var answer = JsonNode.Parse(await batch.Content.ReadAsStringAsync())!;
            Assert.Equal(2, (int)answer["accepted"]!);
            var refused = Assert.Single(answer["rejected"]!.AsArray())!;
            Assert.Equal("s-other", (string)refused["event_id"]!);
            Assert.Equal("outside_key_scope", (string)refused["errors"]![0]!["code"]!);
        }

        using var ingestAll = ProcessingStack.ClientFor(stack.Ingestion, tenantKey);
        using (var other = await ingestAll.PostAsJsonAsync("/v1/events", Event("t-search", "search")))
        {
            Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
        }

        using var queryAll = ProcessingStack.ClientFor(stack.QueryApi, tenantKey);
        var range = $"from={Uri.EscapeDataString(at.AddHours(-1).ToString("O"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(1).ToString("O"))}";
        JsonNode? all = null;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            all = JsonNode.Parse(await queryAll.GetStringAsync($"/v1/usage/breakdown?{range}&group_by=project"));
            return (long)all!["totals"]!["events"]! == 3;
        }, Patience, "three events stored");
        Assert.Equal(["checkout", "search"], all!["rows"]!.AsArray().Select(r => (string)r!["project"]!).Order());

        using var queryScoped = ProcessingStack.ClientFor(stack.QueryApi, scoped);
        var narrowed = JsonNode.Parse(await queryScoped.GetStringAsync($"/v1/usage/breakdown?{range}&group_by=project"))!;
        var row = Assert.Single(narrowed["rows"]!.AsArray())!;
        Assert.Equal(("checkout", 2L), ((string)row["project"]!, (long)row["events"]!));
        var events = JsonNode.Parse(await queryScoped.GetStringAsync($"/v1/events?{range}"))!["events"]!.AsArray();
        Assert.Equal(["s-none", "s-own"], events.Select(e => (string)e!["event_id"]!).Order());
        foreach (var refused in new[] { $"/v1/usage/breakdown?{range}&filter[project]=search", "/v1/events/s-own", $"/v1/usage/timeseries?{range}&filter[project]=search" })
        {
            using var response = await queryScoped.GetAsync(refused);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{refused}: {(int)response.StatusCode}");
        }

        using var controlPlane = ProcessingStack.ClientFor(stack.Core.ControlPlane, scoped);
        using (var budgets = await controlPlane.GetAsync($"/v1/tenants/{id}/budgets"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, budgets.StatusCode);
        }
    }

    /// <summary>
    /// A tenant's admin negotiates a price for its own fine-tune through the price registry with its console session (no
    /// operator), and its events are billed by it — priced by the processor, or, where the event got there first,
    /// stored unpriced and then priced by the repricing the backdated version queued. A viewer is refused with the role
    /// named; another tenant neither sees the override nor can write one for it.
    /// </summary>
    [Fact]
    public async Task ATenantAdminNegotiatesItsOwnPriceAndItsEventsAreBilledByIt()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var tenant = await stack.Core.CreateTenantAsync("negotiated-" + suffix);
        var (id, key) = ((string)tenant["tenant_id"]!, (string)tenant["api_key"]!);
        var other = await stack.Core.CreateTenantAsync("bystander-" + suffix);
        var admin = await stack.Core.SignedInMemberAsync(id, $"admin-{suffix}@negotiated.example", "admin");
        var viewer = await stack.Core.SignedInMemberAsync(id, $"viewer-{suffix}@negotiated.example", "viewer");
        var model = "ft:gpt-4o-mini:acme-" + suffix;
        object Price(string? tenantId = null) => tenantId is null
            ? new { provider = "openai", model, effective_from = DateTimeOffset.UtcNow.AddHours(-1), prices = new { input_cost_per_token = "0.000001", output_cost_per_token = "0.000002" } }
            : new { provider = "openai", model, effective_from = DateTimeOffset.UtcNow.AddHours(-1), prices = new { input_cost_per_token = "0.000001" }, tenant_id = tenantId };

        using (var refused = await ProcessingStack.ClientFor(stack.PriceRegistry, viewer).PostAsJsonAsync("/v1/prices", Price()))
        {
            var problem = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal(("admin", "This needs the 'admin' role; you are 'viewer'."), ((string)problem["missing_role"]!, (string)problem["detail"]!));
        }

        using var registry = ProcessingStack.ClientFor(stack.PriceRegistry, admin);
        using (var elsewhere = await registry.PostAsJsonAsync("/v1/prices", Price((string)other["tenant_id"]!)))
        {
            Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
        }

        using (var created = await registry.PostAsJsonAsync("/v1/prices", Price()))
        {
            var version = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
            Assert.True(created.StatusCode == HttpStatusCode.Created, version.ToJsonString());
            Assert.Equal((true, id), ((bool)version["override"]!, (string)version["tenant_id"]!));
        }

        // The viewer reads it (the tenant's own price is implied); the other tenant never sees it.
        using (var mine = await ProcessingStack.ClientFor(stack.PriceRegistry, viewer).GetAsync($"/v1/prices/overrides"))
        {
            var overrides = JsonNode.Parse(await mine.Content.ReadAsStringAsync())!;
            Assert.Equal(model, (string)Assert.Single(overrides["models"]!.AsArray())!["model"]!);
        }

        using var bystander = ProcessingStack.ClientFor(stack.PriceRegistry, (string)other["api_key"]!);
        using (var hidden = await bystander.GetAsync($"/v1/prices?provider=openai&model={Uri.EscapeDataString(model)}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        }

        using (var named = await bystander.GetAsync($"/v1/prices?provider=openai&model={Uri.EscapeDataString(model)}&tenant_id={id}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, named.StatusCode);
        }

        Assert.Empty(JsonNode.Parse(await bystander.GetStringAsync("/v1/prices/overrides"))!["models"]!.AsArray());

        // 2,000 in × 1e-6 + 500 out × 2e-6.
        using var ingest = ProcessingStack.ClientFor(stack.Ingestion, key);
        using (var accepted = await ingest.PostAsJsonAsync("/v1/events", new
        {
            event_id = "negotiated-" + suffix, timestamp = DateTimeOffset.UtcNow.AddSeconds(-5), provider = "openai", model,
            usage = new { input_tokens = 2_000, output_tokens = 500 },
        }))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        var range = $"from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-2).ToString("O"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(1).ToString("O"))}";
        decimal billed = 0;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            var totals = JsonNode.Parse(await query.GetStringAsync($"/v1/usage/breakdown?{range}"))!["totals"]!;
            billed = Money(totals["cost_usd"]) + Money(totals["adjustments_usd"]);
            return billed == 0.003m;
        }, Patience, "the event billed at the negotiated price");
        Assert.Equal(0.003m, billed);
    }

    private static decimal Money(JsonNode? amount) =>
        amount is null ? 0m : decimal.Parse((string)amount!, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>This tenant's totals over the last two hours: from the raw rows (a range off the hour) and from the hourly rollup.</summary>
    private static async Task<List<(string Source, JsonNode Totals)>> BreakdownsAsync(HttpClient query)
    {
        var now = DateTimeOffset.UtcNow;
        var hour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        var answers = new List<(string, JsonNode)>();
        foreach (var (from, to) in new[] { (now.AddHours(-2).AddSeconds(-7), now.AddSeconds(1)), (hour.AddHours(-2), hour.AddHours(1)) })
        {
            var breakdown = JsonNode.Parse(await query.GetStringAsync(
                $"/v1/usage/breakdown?from={Uri.EscapeDataString(from.ToString("O"))}&to={Uri.EscapeDataString(to.ToString("O"))}"))!;
            answers.Add(((string)breakdown["source"]!, breakdown["totals"]!));
        }

        Assert.Equal(["raw", "hourly"], answers.Select(a => a.Item1));
        return answers;
    }

    /// <summary>
    /// Units priced where the model has their rate (whisper-1: 90.5 s × 0.0001) and never guessed where it has none
    /// (gpt-4o has no web-search price: the event that reports searches is stored unpriced, not billed for its tokens alone).
    /// </summary>
    [Fact]
    public async Task SecondsArePricedPerSecondAndASearchWithoutAPriceLeavesTheEventUnpriced()
    {
        var tenant = await stack.Core.CreateTenantAsync("units-" + Guid.NewGuid().ToString("N")[..8]);
        var key = (string)tenant["api_key"]!;
        using var ingest = ProcessingStack.ClientFor(stack.Ingestion, key);
        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        var (transcript, searched) = ("stt-" + Guid.NewGuid().ToString("N"), "search-" + Guid.NewGuid().ToString("N"));
        using (var accepted = await ingest.PostAsJsonAsync("/v1/events/batch", new
        {
            events = new object[]
            {
                new { event_id = transcript, timestamp = DateTimeOffset.UtcNow.AddSeconds(-5), provider = "openai", model = "whisper-1", usage = new { audio_seconds = 90.5 } },
                new { event_id = searched, timestamp = DateTimeOffset.UtcNow.AddSeconds(-5), provider = "openai", model = "gpt-4o", usage = new { input_tokens = 1_000, output_tokens = 100, web_search_queries = 2 } },
            },
        }))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        async Task<JsonNode> ProcessedAsync(string eventId)
        {
            JsonNode? status = null;
            await ControlPlaneStack.EventuallyAsync(async () =>
            {
                using var response = await query.GetAsync($"/v1/events/{eventId}");
                status = response.StatusCode == HttpStatusCode.OK ? JsonNode.Parse(await response.Content.ReadAsStringAsync()) : null;
                return (string?)status?["status"] == "processed";
            }, Patience, $"{eventId} is processed");
            return status!["processed"]!;
        }

        Assert.Equal("0.00905", (string)(await ProcessedAsync(transcript))["cost_usd"]!);
        var unpriced = await ProcessedAsync(searched);
        Assert.Equal((false, (string?)null), ((bool)unpriced["priced"]!, (string?)unpriced["cost_usd"]));

        // The units show in breakdowns as they were reported, the raw rows and a rollup alike.
        foreach (var (_, totals) in await BreakdownsAsync(query))
        {
            Assert.Equal(("90.5", 2UL, 0UL), ((string)totals["audio_seconds"]!, (ulong)totals["web_search_queries"]!, (ulong)totals["images"]!));
        }
    }

    [Fact]
    public async Task AnAcceptedEventIsPricedByTheServerAndItsStatusServedByTheQueryApi()
    {
        var tenant = await stack.Core.CreateTenantAsync("e2e-" + Guid.NewGuid().ToString("N")[..8]);
        var key = (string)tenant["api_key"]!;
        using var ingest = ProcessingStack.ClientFor(stack.Ingestion, key);
        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        var eventId = "req-" + Guid.NewGuid().ToString("N");
        var body = new
        {
            event_id = eventId, timestamp = DateTimeOffset.UtcNow.AddSeconds(-5), provider = "anthropic", model = "claude-sonnet-4-5",
            usage = new { input_tokens = 12000, cache_read_tokens = 8000, cache_write_tokens = 1000, output_tokens = 900, reasoning_tokens = 300 },
            application = "support-bot", user_id = "u-42", team = "cx", client_cost_usd = "99.99",
        };

        using (var accepted = await ingest.PostAsJsonAsync("/v1/events", body))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        JsonNode? status = null;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            using var response = await query.GetAsync($"/v1/events/{eventId}");
            status = response.StatusCode == HttpStatusCode.OK ? JsonNode.Parse(await response.Content.ReadAsStringAsync()) : null;
            return (string?)status?["status"] == "processed";
        }, Patience, "the event is processed");

        var processed = status!["processed"]!;
        // claude-sonnet-4-5 (shipped prices): 3,000 × 0.000003 + 8,000 × 0.0000003 + 1,000 × 0.00000375 + 600 × 0.000015 + 300 × 0.000015.
        Assert.Equal("0.02865", (string)processed["cost_usd"]!);
        Assert.Equal(("claude-sonnet-4-5", "BILLING"), ((string)processed["priced_model"]!, (string)processed["classification"]!));
        Assert.False(string.IsNullOrEmpty((string)processed["price_version_id"]!));

        // The client retries the same event: stored once, the retry listed as its duplicate.
        using (var retried = await ingest.PostAsJsonAsync("/v1/events", body))
        {
            Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);
        }

        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            var again = JsonNode.Parse(await query.GetStringAsync($"/v1/events/{eventId}"))!;
            return again["duplicates"]!.AsArray().Count == 1 && (string)again["duplicates"]![0]!["duplicate_of"]! == (string)processed["log_position"]!;
        }, Patience, "the retry is recorded as a duplicate");

        // The breakdown counts it once, at the server's price, from the compact daily rollup (no user asked for).
        var day = DateTime.UtcNow.Date;
        var breakdown = JsonNode.Parse(await query.GetStringAsync(
            $"/v1/usage/breakdown?from={day:yyyy-MM-dd}T00:00:00Z&to={day.AddDays(1):yyyy-MM-dd}T00:00:00Z&group_by=model,application&filter[team]=cx"))!;
        var row = breakdown["rows"]!.AsArray().Single()!;
        Assert.Equal(("claude-sonnet-4-5", "support-bot", 1ul, "0.02865"), ((string)row["model"]!, (string)row["application"]!, (ulong)row["events"]!, (string)row["cost_usd"]!));
        Assert.Equal(12000ul, (ulong)row["input_tokens"]!);
        Assert.Equal("daily_compact", (string)breakdown["source"]!);
        using var badBreakdown = await query.GetAsync("/v1/usage/breakdown?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z&group_by=colour");
        Assert.Equal(HttpStatusCode.BadRequest, badBreakdown.StatusCode);
        var problem = await badBreakdown.Content.ReadAsStringAsync();
        Assert.Contains("group_by", problem);
        Assert.Contains("'to' must be after 'from'", problem);

        using var unknown = await query.GetAsync("/v1/events/never-sent");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var anonymous = new HttpClient { BaseAddress = stack.QueryApi.HttpUri };
        using var refused = await anonymous.GetAsync($"/v1/events/{eventId}");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task AKillBetweenTheClickHouseWriteAndTheCommitLeavesRawRowsRollupsAndArchiveExact()
    {
        var tenant = Guid.NewGuid().ToString();
        const int Events = 2_500;
        var at = DateTimeOffset.UtcNow.AddMinutes(-10);
        await stack.KillProcessorAsync();
        await stack.AppendAsync(Enumerable.Range(0, Events).Select(i => Logged.Event(tenant, $"k-{i}", at.AddMilliseconds(i), model: "claude-sonnet-4-5", output: 900 + i % 7)));

        // The first batch is written to the archive and ClickHouse; the process stops before its commit and is killed.
        var paused = await stack.StartProcessorAsync(new Dictionary<string, string> { ["Tokage__Processor__PauseBeforeFirstCommit"] = "true" });
        await ControlPlaneStack.EventuallyAsync(() => Task.FromResult(paused.Output.Contains("paused before its commit")), Patience, "the first batch is stored");
        var storedBeforeKill = await stack.CountAsync("SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", tenant);
        await stack.KillProcessorAsync();

        var restarted = await stack.StartProcessorAsync();
        await stack.WaitUntilStoredAndCommittedAsync(tenant, Events, Patience);

        Assert.InRange(storedBeforeKill, 1ul, (ulong)Events - 1);
        // Raw rows without FINAL: not one written twice. Rollups: not one counted twice. Cost: the same total everywhere.
        Assert.Equal((ulong)Events, await stack.CountAsync("SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", tenant));
        Assert.Equal((ulong)Events, await stack.CountAsync("SELECT uniqExact(event_id) FROM usage_events WHERE tenant_id = {tenant:String}", tenant));
        Assert.Equal((ulong)Events, await stack.CountAsync("SELECT sum(events) FROM usage_hourly WHERE tenant_id = {tenant:String}", tenant));
        Assert.Equal((ulong)Events, await stack.CountAsync("SELECT sum(events) FROM usage_daily WHERE tenant_id = {tenant:String}", tenant));
        var rawCost = await stack.SumAsync("SELECT sum(cost_usd) FROM usage_events WHERE tenant_id = {tenant:String}", tenant);
        Assert.Equal(rawCost, await stack.SumAsync("SELECT sum(cost_usd) FROM usage_daily WHERE tenant_id = {tenant:String}", tenant));
        Assert.True(rawCost > 0);
        var archive = $"file('{stack.ArchivePath}/archive/tenant={tenant}/*/*/*.parquet', Parquet)";
        Assert.Equal((ulong)Events, await stack.CountAsync($"SELECT count() FROM {archive} WHERE tenant_id = {{tenant:String}}", tenant));
        Assert.Equal(rawCost, await stack.SumAsync($"SELECT sum(cost_usd) FROM {archive} WHERE tenant_id = {{tenant:String}}", tenant));
        Assert.Equal(0ul, await stack.CountAsync("SELECT count() FROM usage_duplicates WHERE tenant_id = {tenant:String}", tenant));
        Assert.DoesNotContain("paused before its commit", restarted.Output);
    }

    [Fact]
    public async Task WhileClickHouseIsDownEventsWaitInTheLogAndFlowWhenItReturns()
    {
        var tenant = Guid.NewGuid().ToString();
        const int Events = 600;
        var processor = stack.Processor ?? await stack.StartProcessorAsync();
        await stack.StopClickHouseAsync();
        var logBefore = processor.Output.Length;
        await stack.AppendAsync(Enumerable.Range(0, Events).Select(i => Logged.Event(tenant, $"d-{i}", DateTimeOffset.UtcNow.AddSeconds(-i))));

        await ControlPlaneStack.EventuallyAsync(
            () => Task.FromResult(processor.CountInOutput("is retried in", logBefore) > 0), Patience, "the processor backs off");
        await Task.Delay(TimeSpan.FromSeconds(4));
        var retries = processor.CountInOutput("is retried in", logBefore);
        using (var http = new HttpClient { BaseAddress = processor.HttpUri })
        {
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/alive")).StatusCode);
        }

        await stack.StartClickHouseAgainAsync();
        await stack.WaitUntilStoredAndCommittedAsync(tenant, Events, Patience);

        // Backoff, not a busy loop: a handful of attempts in those seconds, not thousands.
        Assert.InRange(retries, 1, 25);
        Assert.Equal((ulong)Events, await stack.CountAsync("SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", tenant));
        foreach (var rollup in ProcessingStack.Rollups)
        {
            var counted = await stack.CountAsync($"SELECT sum(events) FROM {rollup} WHERE tenant_id = {{tenant:String}}", tenant);
            Assert.True(counted == Events, $"{rollup} counts {counted} of {Events} events.\n{await stack.DescribeStorageAsync(tenant)}");
        }
    }

    [Fact]
    public async Task APriceAddedToTheRegistryReachesTheProcessorAndPricesEventsFromItsStart()
    {
        var tenant = Guid.NewGuid().ToString();
        var processor = stack.Processor ?? await stack.StartProcessorAsync();
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        using var admin = new HttpClient { BaseAddress = stack.PriceRegistry.HttpUri };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ControlPlaneStack.AdminToken);

        // A negotiated price for this tenant only, from an hour ago: half the public input and output rates.
        using var created = await admin.PostAsJsonAsync("/v1/prices", new
        {
            provider = "anthropic", model = "claude-sonnet-4-5", effective_from = start, tenant_id = tenant, source = "contract",
            prices = new Dictionary<string, string>
            {
                ["input_cost_per_token"] = "0.0000015", ["output_cost_per_token"] = "0.0000075",
                ["cache_read_input_token_cost"] = "0.00000015", ["cache_creation_input_token_cost"] = "0.000001875",
            },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var versionId = (long)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["version_id"]!;
        await ControlPlaneStack.EventuallyAsync(() => Task.FromResult(processor.Output.Contains($"Price version {versionId} added")), Patience, "the processor has the new version");

        await stack.AppendAsync(
        [
            Logged.Event(tenant, "before-contract", start.AddMinutes(-1), model: "claude-sonnet-4-5"),
            Logged.Event(tenant, "under-contract", start.AddMinutes(1), model: "claude-sonnet-4-5"),
        ]);
        await ControlPlaneStack.EventuallyAsync(
            async () => await stack.CountAsync("SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", tenant) == 2, Patience, "both events are stored");

        Assert.Equal(0.02865m, await stack.SumAsync("SELECT sum(cost_usd) FROM usage_events WHERE tenant_id = {tenant:String} AND event_id = 'before-contract'", tenant));
        Assert.Equal(0.014325m, await stack.SumAsync("SELECT sum(cost_usd) FROM usage_events WHERE tenant_id = {tenant:String} AND event_id = 'under-contract'", tenant));
        Assert.Equal((ulong)versionId, await stack.CountAsync(
            "SELECT toUInt64(price_version_id) FROM usage_events WHERE tenant_id = {tenant:String} AND event_id = 'under-contract'", tenant));
    }

    /// <summary>
    /// A tenant's negotiated price turns out wrong (half what was agreed): its correction reprices the three events it
    /// priced. Raw rows keep what was charged; adjustments carry the difference, and the breakdown shows both, from the
    /// raw rows and from the rollups alike. The same correction again adjusts nothing more. An event stored unpriced (a
    /// model no price knew) is priced once a price for its model arrives, backdated to its time.
    /// </summary>
    [Fact]
    public async Task ACorrectedPriceRepricesItsEventsWithAdjustmentsAndAPriceThatArrivesPricesWhatWasUnpriced()
    {
        var created = await stack.Core.CreateTenantAsync("reprice-" + Guid.NewGuid().ToString("N")[..8]);
        var (tenant, key) = ((string)created["tenant_id"]!, (string)created["api_key"]!);
        var start = DateTimeOffset.UtcNow.AddHours(-2);
        using var admin = new HttpClient { BaseAddress = stack.PriceRegistry.HttpUri };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ControlPlaneStack.AdminToken);
        var rates = new Dictionary<string, string>
        {
            ["input_cost_per_token"] = "0.0000015", ["output_cost_per_token"] = "0.0000075",
            ["cache_read_input_token_cost"] = "0.00000015", ["cache_creation_input_token_cost"] = "0.000001875",
        };
        var versionId = await AddPriceAsync(admin, "claude-sonnet-4-5", tenant, start, rates);
        // The processor learns the version over the change feed: events it prices before that get the list price.
        var processor = stack.Processor ?? await stack.StartProcessorAsync();
        await ControlPlaneStack.EventuallyAsync(() => Task.FromResult(processor.Output.Contains($"Price version {versionId} added")), Patience, "the processor has the new version");

        var unknownModel = "in-house-" + Guid.NewGuid().ToString("N")[..8];
        await stack.AppendAsync(
        [
            .. Enumerable.Range(1, 3).Select(i => Logged.Event(tenant, $"contract-{i}", start.AddMinutes(i), model: "claude-sonnet-4-5")),
            Logged.Event(tenant, "in-house", start.AddMinutes(4), model: unknownModel, cacheRead: 0, cacheWrite: 0),
        ]);
        await ControlPlaneStack.EventuallyAsync(
            async () => await stack.CountAsync("SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", tenant) == 4, Patience, "the events are stored");
        var charged = await stack.SumAsync("SELECT sum(cost_usd) FROM usage_events FINAL WHERE tenant_id = {tenant:String}", tenant);
        Assert.Equal(3 * 0.014325m, charged);

        // The agreed rates were twice these: each event was charged half its cost.
        using var corrected = await admin.PostAsJsonAsync($"/v1/prices/{versionId}/corrections", new
        {
            prices = rates.ToDictionary(r => r.Key, r => (decimal.Parse(r.Value, System.Globalization.CultureInfo.InvariantCulture) * 2).ToString(System.Globalization.CultureInfo.InvariantCulture)),
            source = "contract, corrected",
        });
        Assert.Equal(HttpStatusCode.Accepted, corrected.StatusCode);
        var first = await FinishedAsync(admin, corrected.Headers.Location!);
        Assert.Equal(("correction", 3L, 3L, charged), ((string)first["kind"]!, (long)first["events_scanned"]!, (long)first["events_adjusted"]!, decimal.Parse((string)first["adjustments_usd"]!, System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(charged, await stack.SumAsync("SELECT sum(cost_usd) FROM usage_events FINAL WHERE tenant_id = {tenant:String}", tenant));
        Assert.Equal(charged, await stack.SumAsync("SELECT sum(adjustment_usd) FROM usage_adjustments FINAL WHERE tenant_id = {tenant:String}", tenant));
        foreach (var rollup in ProcessingStack.Rollups)
        {
            Assert.Equal(charged, await stack.SumAsync($"SELECT sum(adjustments_usd) FROM {rollup} WHERE tenant_id = {{tenant:String}}", tenant));
        }

        // As if the registry had died after writing a page but before recording it: the same repricing from its start
        // again. The events it adjusted are skipped, so the adjustments and the rollups stay as they were.
        await using (var prices = new Npgsql.NpgsqlConnection(stack.Core.PricesRoleConnectionString))
        {
            await prices.OpenAsync();
            await using var requeue = new Npgsql.NpgsqlCommand(
                "UPDATE price_repricings SET status = 'queued', cursor_tenant = NULL, cursor_time_ms = NULL, cursor_event = NULL, " +
                "events_scanned = 0, events_adjusted = 0, adjustments_usd = 0 WHERE id = $1", prices);
            requeue.Parameters.Add(new Npgsql.NpgsqlParameter<long> { TypedValue = (long)first["repricing_id"]! });
            Assert.Equal(1, await requeue.ExecuteNonQueryAsync());
        }

        var rerun = await FinishedAsync(admin, corrected.Headers.Location!);
        Assert.Equal((3L, 0L), ((long)rerun["events_scanned"]!, (long)rerun["events_adjusted"]!));
        Assert.Equal(charged, await stack.SumAsync("SELECT sum(adjustments_usd) FROM usage_daily WHERE tenant_id = {tenant:String}", tenant));

        // Run again with the same rates: the events already cost what it says, so nothing more is adjusted.
        using var again = await admin.PostAsJsonAsync($"/v1/prices/{versionId}/corrections", new
        {
            prices = rates.ToDictionary(r => r.Key, r => (decimal.Parse(r.Value, System.Globalization.CultureInfo.InvariantCulture) * 2).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        });
        var second = await FinishedAsync(admin, again.Headers.Location!);
        Assert.Equal((3L, 0L), ((long)second["events_scanned"]!, (long)second["events_adjusted"]!));
        Assert.Equal(3UL, await stack.CountAsync("SELECT count() FROM usage_adjustments WHERE tenant_id = {tenant:String}", tenant));

        // A price for the in-house model arrives, backdated to before its event: that event is priced by an adjustment.
        var (added, repricing) = await AddPriceWithRepricingAsync(admin, unknownModel, tenant, start, new Dictionary<string, string>
        {
            ["input_cost_per_token"] = "0.000001", ["output_cost_per_token"] = "0.000002",
        });
        Assert.True(added > versionId);
        var unpriced = await FinishedAsync(admin, new Uri($"/v1/repricings/{repricing}", UriKind.Relative));
        Assert.Equal(("unpriced", 1L), ((string)unpriced["kind"]!, (long)unpriced["events_adjusted"]!));
        // 12,000 input × 1e-6 + 900 output × 2e-6
        var inHouse = 0.0138m;
        Assert.Equal(inHouse, decimal.Parse((string)unpriced["adjustments_usd"]!, System.Globalization.CultureInfo.InvariantCulture));

        // The breakdown from the raw rows (a range not on whole hours) and from a rollup (whole hours) agree.
        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        var hour = new DateTimeOffset(start.Year, start.Month, start.Day, start.Hour, 0, 0, TimeSpan.Zero);
        foreach (var (from, to, source) in new[] { (start.AddSeconds(-30), DateTimeOffset.UtcNow, "raw"), (hour, hour.AddHours(3), "hourly") })
        {
            var breakdown = JsonNode.Parse(await query.GetStringAsync(
                $"/v1/usage/breakdown?from={Uri.EscapeDataString(from.ToString("O"))}&to={Uri.EscapeDataString(to.ToString("O"))}&group_by=model"))!;
            Assert.Equal(source, (string)breakdown["source"]!);
            var rows = breakdown["rows"]!.AsArray().ToDictionary(r => (string)r!["model"]!, r => r!);
            decimal Money(JsonNode? value) => decimal.Parse((string)value!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(charged, Money(rows["claude-sonnet-4-5"]["cost_usd"]));
            Assert.Equal(charged, Money(rows["claude-sonnet-4-5"]["adjustments_usd"]));
            Assert.Null((string?)rows[unknownModel]["cost_usd"]);
            Assert.Equal(inHouse, Money(rows[unknownModel]["adjustments_usd"]));
            Assert.Equal(charged + inHouse, Money(breakdown["totals"]!["adjustments_usd"]));
        }
    }

    private static async Task<long> AddPriceAsync(HttpClient admin, string model, string tenant, DateTimeOffset from, Dictionary<string, string> prices) =>
        (await AddPriceWithRepricingAsync(admin, model, tenant, from, prices)).Version;

    private static async Task<(long Version, long? Repricing)> AddPriceWithRepricingAsync(HttpClient admin, string model, string tenant, DateTimeOffset from, Dictionary<string, string> prices)
    {
        using var created = await admin.PostAsJsonAsync("/v1/prices", new { provider = "anthropic", model, effective_from = from, tenant_id = tenant, prices });
        var body = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        Assert.True(created.StatusCode == HttpStatusCode.Created, body.ToJsonString());
        return ((long)body["version_id"]!, (long?)body["repricing_id"]);
    }

    /// <summary>The repricing at <paramref name="location"/> once it is done.</summary>
    private static async Task<JsonNode> FinishedAsync(HttpClient admin, Uri location)
    {
        JsonNode? job = null;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            job = JsonNode.Parse(await admin.GetStringAsync(location));
            Assert.NotEqual("failed", (string)job!["status"]!);
            return (string)job["status"]! == "done";
        }, Patience, $"repricing {location} is done");
        return job!;
    }
}
