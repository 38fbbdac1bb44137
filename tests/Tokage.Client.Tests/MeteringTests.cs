using System.ClientModel;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;
using Tokage.Contracts.V1;

namespace Tokage.Client.Tests;

/// <summary>
/// The .NET SDK end to end: OpenAI's official client (through Microsoft.Extensions.AI's adapter) against a local fake of
/// OpenAI's API, metered by <c>UseTokage()</c> into the running services (ingestion over gRPC, the processor, the query
/// API): the breakdown shows what the fake reported, priced by Tokage from its registry. And the app never notices
/// Tokage: refused or away, every call still answers, and what could not be sent waits in the spool for the next start.
/// </summary>
public sealed class MeteringTests(ProcessingStack stack) : IClassFixture<ProcessingStack>, IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private FakeOpenAI provider = null!;

    public async Task InitializeAsync() => provider = await FakeOpenAI.StartAsync();

    public async Task DisposeAsync() => await provider.DisposeAsync();

    [Fact]
    public async Task StreamedAndPlainCallsAreMeteredWithTheirScopeAndPricedByTokage()
    {
        var (tenant, key) = await TenantAsync("sdk-metered");
        await using var tokage = Client(key);
        await tokage.StartAsync(CancellationToken.None);
        var chat = OpenAi().GetChatClient("gpt-4o").AsIChatClient().AsBuilder().UseTokage(tokage).Build();
        var embeddings = OpenAi().GetEmbeddingClient("text-embedding-3-small").AsIEmbeddingGenerator().AsBuilder().UseTokage(tokage).Build();

        using (TokageScope.Begin(customer: "acme", team: "cx"))
        {
            var answer = await chat.GetResponseAsync("Hello?");
            Assert.Equal("Hello from the fake.", answer.Text);
            using (TokageScope.Begin(user: "u-7"))
            {
                var streamed = "";
                await foreach (var update in chat.GetStreamingResponseAsync("Hello again?"))
                {
                    streamed += update.Text;
                }

                Assert.Equal("Hello from the fake.", streamed);
            }

            await embeddings.GenerateAsync(["one", "two"]);
        }

        await tokage.FlushAsync();
        Assert.Equal((3L, 3L, 0L), (tokage.Statistics.Tracked, tokage.Statistics.Sent, tokage.Statistics.UsageMissing));

        // Two chat calls as the fake reported them, one embedding call; each event id is the provider's response id.
        var rows = await BreakdownAsync(key, "model", events: 3);
        var chatRow = rows.Single(r => (string)r["model"]! == "gpt-4o");
        var (prompt, cached, completion, reasoning) = provider.Usage;
        Assert.Equal((2L * prompt, 2L * cached, 2L * completion, 2L * reasoning),
            ((long)chatRow["input_tokens"]!, (long)chatRow["cache_read_tokens"]!, (long)chatRow["output_tokens"]!, (long)chatRow["reasoning_tokens"]!));
        Assert.Equal(42L, (long)rows.Single(r => (string)r["model"]! == "text-embedding-3-small")["input_tokens"]!);

        // Priced by Tokage from its registry (the client sent no cost): uncached input, cache reads and output at gpt-4o's rates.
        using var registry = new HttpClient { BaseAddress = stack.PriceRegistry.HttpUri };
        var rates = (await registry.GetFromJsonAsync<JsonObject>("/v1/prices?provider=openai&model=gpt-4o"))!["prices"]!;
        var expected = 2 * ((prompt - cached) * Rate(rates, "input_cost_per_token") + cached * Rate(rates, "cache_read_input_token_cost")
            + completion * Rate(rates, "output_cost_per_token"));
        Assert.Equal(expected, decimal.Parse((string)chatRow["cost_usd"]!, CultureInfo.InvariantCulture));

        var byCustomer = await BreakdownAsync(key, "customer", events: 3);
        Assert.Equal(["acme"], byCustomer.Select(r => (string)r["customer"]!));
        // The inner scope's user on the streamed call only (stored pseudonymised).
        var byUser = await BreakdownAsync(key, "user", events: 3);
        Assert.Single(byUser, r => r.Any(p => p.Key.StartsWith("user", StringComparison.Ordinal) && p.Value is JsonValue v && v.ToString().Length > 0) && (long)r["events"]! == 1);

        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        foreach (var id in provider.ResponseIds)
        {
            var status = await query.GetFromJsonAsync<JsonObject>($"/v1/events/{id}");
            Assert.Equal("processed", (string)status!["status"]!);
        }

        Assert.NotEmpty(tenant);
    }

    /// <summary>
    /// Anthropic's official client (its Microsoft.Extensions.AI adapter) against a local fake of the Messages API: cache
    /// reads and writes reported apart from the input are counted inside it, as Tokage counts input, and priced as such.
    /// </summary>
    [Fact]
    public async Task AnthropicCallsAreMeteredWithTheirCache()
    {
        await using var anthropic = await FakeAnthropic.StartAsync();
        var (_, key) = await TenantAsync("sdk-anthropic");
        await using var tokage = Client(key);
        await tokage.StartAsync(CancellationToken.None);
        var client = new Anthropic.AnthropicClient { ApiKey = "sk-ant-fake", BaseUrl = anthropic.Endpoint.ToString().TrimEnd('/') };
        var chat = client.AsIChatClient("claude-sonnet-4-5").AsBuilder().UseTokage(tokage).Build();

        Assert.Equal("Hello from the fake.", (await chat.GetResponseAsync("Hello?", new ChatOptions { MaxOutputTokens = 100 })).Text);
        var streamed = "";
        await foreach (var update in chat.GetStreamingResponseAsync("Hello again?", new ChatOptions { MaxOutputTokens = 100 }))
        {
            streamed += update.Text;
        }

        Assert.Equal("Hello from the fake.", streamed);
        await tokage.FlushAsync();
        var row = (await BreakdownAsync(key, "model", events: 2)).Single();
        var (input, cacheWrite, cacheRead, output) = anthropic.Usage;
        Assert.Equal((2L * (input + cacheWrite + cacheRead), 2L * cacheRead, 2L * cacheWrite, 2L * output),
            ((long)row["input_tokens"]!, (long)row["cache_read_tokens"]!, (long)row["cache_write_tokens"]!, (long)row["output_tokens"]!));
        Assert.Equal("claude-sonnet-4-5", (string)row["model"]!);
        Assert.NotNull((string?)row["cost_usd"]);
    }

    [Fact]
    public async Task AStreamThatReportsNoUsageIsSentAsUsageMissingNotAsFree()
    {
        var (_, key) = await TenantAsync("sdk-missing");
        await using var tokage = Client(key);
        await tokage.StartAsync(CancellationToken.None);
        var chat = OpenAi().GetChatClient("gpt-4o").AsIChatClient().AsBuilder().UseTokage(tokage).Build();
        provider.OmitStreamUsage = true;
        try
        {
            await foreach (var _ in chat.GetStreamingResponseAsync("No usage, please."))
            {
            }
        }
        finally
        {
            provider.OmitStreamUsage = false;
        }

        await tokage.FlushAsync();
        Assert.Equal(1L, tokage.Statistics.UsageMissing);
        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        JsonObject? status = null;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            using var response = await query.GetAsync($"/v1/events/{provider.ResponseIds[^1]}");
            status = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonObject>() : null;
            return (string?)status?["status"] == "processed";
        }, Patience, "the usage-missing event is stored");
        Assert.Equal((false, "usage_missing"), ((bool)status!["processed"]!["priced"]!, (string?)status["processed"]!["unpriced_reason"]));
        Assert.Null(status["processed"]!["cost_usd"]);
    }

    [Fact]
    public async Task WithTokageAwayTheAppsCallsAnswerAndTheSpoolKeepsTheirUsageForTheNextStart()
    {
        var (_, key) = await TenantAsync("sdk-spool");
        var spool = Directory.CreateTempSubdirectory("tokage-spool-").FullName;
        try
        {
            // Nothing listens there: every send fails, the queue (2 events) fills, the rest spools.
            var away = Client(key, new Uri("http://127.0.0.1:9"), spool, capacity: 2);
            await away.StartAsync(CancellationToken.None);
            var chat = OpenAi().GetChatClient("gpt-4o").AsIChatClient().AsBuilder().UseTokage(away).Build();
            for (var i = 0; i < 6; i++)
            {
                Assert.Equal("Hello from the fake.", (await chat.GetResponseAsync($"call {i}")).Text);
            }

            await ControlPlaneStack.EventuallyAsync(() => Task.FromResult(away.Statistics.Retries > 0), Patience, "the sender retried");
            await away.DisposeAsync();
            Assert.Equal(6L, away.Statistics.Spooled);
            Assert.Equal(0L, away.Statistics.Sent + away.Statistics.Dropped + away.Statistics.DroppedOldest);

            // The app starts again with Tokage back: the spooled usage goes out first.
            await using var back = Client(key, spool: spool);
            await back.StartAsync(CancellationToken.None);
            await ControlPlaneStack.EventuallyAsync(() => Task.FromResult(back.Statistics.Sent == 6), Patience, "the spool is sent");
            await BreakdownAsync(key, "model", events: 6);
            Assert.Empty(Directory.GetFiles(spool));
        }
        finally
        {
            Directory.Delete(spool, recursive: true);
        }
    }

    /// <summary>
    /// A reservation before a call: granted while the team's hard-limit budget has room, refused past it (naming the
    /// budget), and settled by the call's event, which carries it from the reservation's scope.
    /// </summary>
    [Fact]
    public async Task AReservationIsGrantedWithinAHardLimitAndSettledByTheCallsEvent()
    {
        var (tenant, key) = await TenantAsync("sdk-reserve");
        await stack.Core.PostAsync($"/v1/tenants/{tenant}/budgets", new { name = "cx-cap", scope = new { kind = "team", value = "cx" }, period = "monthly", amount_usd = "1", hard_limit = true });
        var reservations = new TokageReservations(new TokageOptions { ApiKey = key, QueryEndpoint = stack.QueryApi.HttpUri });
        var team = new TokageBudgetScope("team", "cx");

        var first = await reservations.ReserveAsync(team, 0.6m);
        Assert.True(first.Granted, first.Error);
        var second = await reservations.ReserveAsync(team, 0.6m);
        Assert.False(second.Granted);
        Assert.Equal(["cx-cap"], second.LimitedBy);

        await using var tokage = Client(key);
        await tokage.StartAsync(CancellationToken.None);
        var chat = OpenAi().GetChatClient("gpt-4o").AsIChatClient().AsBuilder().UseTokage(tokage).Build();
        using (TokageScope.Begin(team: "cx"))
        using (first.Attribute())
        {
            await chat.GetResponseAsync("Within budget?");
        }

        await tokage.FlushAsync();
        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        decimal reserved = -1;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            using var check = await query.PostAsJsonAsync("/v1/entitlements/check", new { scope = new { kind = "team", value = "cx" } });
            var budget = (await check.Content.ReadFromJsonAsync<JsonObject>())!["budgets"]![0]!;
            reserved = decimal.Parse((string)budget["reserved_usd"]!, CultureInfo.InvariantCulture);
            return reserved == 0;
        }, Patience, "the call's event settles the reservation");
        Assert.Equal(1UL, await stack.CountAsync(
            $"SELECT count() FROM usage_events FINAL WHERE tenant_id = {{tenant:String}} AND reservation_id = '{first.ReservationId}'", tenant));

        // Unreachable: a refusal that says why, never an exception.
        var away = await new TokageReservations(new TokageOptions { ApiKey = key, QueryEndpoint = new Uri("http://127.0.0.1:9") }).ReserveAsync(team, 0.1m);
        Assert.False(away.Granted);
        Assert.NotNull(away.Error);
    }

    /// <summary>The README's quick start is the sample's Program.cs, and it meters its call into Tokage as written.</summary>
    [Fact]
    public async Task TheReadmesQuickStartRunsAsWritten()
    {
        var root = RepositoryRoot();
        var program = await File.ReadAllTextAsync(Path.Combine(root, "sdks/dotnet/samples/QuickStart/Program.cs"));
        var readme = await File.ReadAllTextAsync(Path.Combine(root, "sdks/dotnet/Tokage.Client/README.md"));
        var block = readme.Split("```csharp\n", 2)[1].Split("\n```", 2)[0];
        Assert.Equal(program.TrimEnd('\n'), block);

        var (_, key) = await TenantAsync("sdk-quickstart");
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var (code, output) = await RunAsync("dotnet", [Path.Combine(root, $"sdks/dotnet/samples/QuickStart/bin/{configuration}/net10.0/QuickStart.dll")], root, new()
        {
            ["TOKAGE_API_KEY"] = key, ["TOKAGE_ENDPOINT"] = stack.Ingestion.GrpcUri.ToString(),
            ["OPENAI_API_KEY"] = "sk-fake", ["OPENAI_BASE_URL"] = provider.Endpoint.ToString(), ["DOTNET_ENVIRONMENT"] = "Production",
        });
        Assert.True(code == 0, $"exit {code}: {output}");
        Assert.Contains("Hello from the fake.", output, StringComparison.Ordinal);

        var byCustomer = await BreakdownAsync(key, "customer", events: 1);
        Assert.Equal(("acme", "gpt-4o-mini"), ((string)byCustomer.Single()["customer"]!, provider.LastModel));
    }

    /// <summary>
    /// The TypeScript SDK's own tests (node's test runner, sdks/js/test), built with tsc, against these running services
    /// and local fakes of OpenAI and Anthropic: they check the breakdowns themselves; here, that they all pass.
    /// </summary>
    [Fact]
    public async Task TheTypeScriptSdkMetersOpenAiAndAnthropicCallsThroughTokage()
    {
        await using var anthropic = await FakeAnthropic.StartAsync();
        var (_, key) = await TenantAsync("sdk-js");
        var (code, output) = await NodeAsync(["--test", "--test-concurrency=1", "test/"], key, anthropic);
        Assert.True(code == 0, output);
        Assert.Contains("# pass 5", output, StringComparison.Ordinal);
    }

    /// <summary>The TypeScript README's quick start is examples/quickstart.mjs, and it meters its call as written.</summary>
    [Fact]
    public async Task TheTypeScriptQuickStartRunsAsWritten()
    {
        var root = RepositoryRoot();
        var example = await File.ReadAllTextAsync(Path.Combine(root, "sdks/js/examples/quickstart.mjs"));
        var readme = await File.ReadAllTextAsync(Path.Combine(root, "sdks/js/README.md"));
        Assert.Equal(example.TrimEnd('\n'), readme.Split("```js\n", 2)[1].Split("\n```", 2)[0]);

        var (_, key) = await TenantAsync("sdk-js-quickstart");
        var (code, output) = await NodeAsync(["examples/quickstart.mjs"], key, anthropic: null);
        Assert.True(code == 0, output);
        Assert.Contains("Hello from the fake.", output, StringComparison.Ordinal);
        var byCustomer = await BreakdownAsync(key, "customer", events: 1);
        Assert.Equal("acme", (string)byCustomer.Single()["customer"]!);
    }

    /// <summary>Builds the TypeScript SDK (tsc) and runs node in sdks/js with the services' and the fakes' addresses.</summary>
    private async Task<(int ExitCode, string Output)> NodeAsync(string[] arguments, string key, FakeAnthropic? anthropic)
    {
        var directory = Path.Combine(RepositoryRoot(), "sdks", "js");
        var build = await RunAsync("npm", ["run", "build", "--silent"], directory, []);
        Assert.True(build.ExitCode == 0, "tsc: " + build.Output);
        var environment = new Dictionary<string, string>
        {
            ["TOKAGE_API_KEY"] = key,
            ["TOKAGE_ENDPOINT"] = stack.Ingestion.HttpUri.ToString().TrimEnd('/'),
            ["TOKAGE_QUERY_URL"] = stack.QueryApi.HttpUri.ToString().TrimEnd('/'),
            ["OPENAI_API_KEY"] = "sk-fake",
            ["OPENAI_BASE_URL"] = provider.Endpoint.ToString(),
            ["FAKE_OPENAI_USAGE"] = $"{provider.Usage.Prompt},{provider.Usage.Cached},{provider.Usage.Completion},{provider.Usage.Reasoning}",
        };
        if (anthropic is not null)
        {
            environment["ANTHROPIC_BASE_URL"] = anthropic.Endpoint.ToString().TrimEnd('/');
            environment["FAKE_ANTHROPIC_USAGE"] = $"{anthropic.Usage.Input},{anthropic.Usage.CacheWrite},{anthropic.Usage.CacheRead},{anthropic.Usage.Output}";
        }

        return await RunAsync("node", arguments, directory, environment);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] arguments, string directory, Dictionary<string, string> environment)
    {
        var start = new System.Diagnostics.ProcessStartInfo(file, arguments) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await errors);
    }

    private static string RepositoryRoot() => TestAssets.Path("RepositoryRoot");

    private OpenAIClient OpenAi() => new(new ApiKeyCredential("sk-fake"), new OpenAIClientOptions { Endpoint = provider.Endpoint });

    private TokageClient Client(string key, Uri? endpoint = null, string? spool = null, int capacity = 1_000) =>
        new(Options.Create(new TokageOptions
        {
            ApiKey = key,
            Endpoint = endpoint ?? stack.Ingestion.GrpcUri,
            Application = "sdk-tests",
            FlushInterval = TimeSpan.FromMilliseconds(100),
            QueueCapacity = capacity,
            WhenFull = spool is null ? QueueFullPolicy.DropOldest : QueueFullPolicy.Spool,
            SpoolDirectory = spool,
            MaxRetryDelay = TimeSpan.FromMilliseconds(500),
            ShutdownTimeout = TimeSpan.FromSeconds(1),
        }));

    private async Task<(string TenantId, string Key)> TenantAsync(string name)
    {
        var tenant = await stack.Core.CreateTenantAsync(name + "-" + Guid.NewGuid().ToString("N")[..8]);
        return ((string)tenant["tenant_id"]!, (string)tenant["api_key"]!);
    }

    /// <summary>The tenant's breakdown by <paramref name="groupBy"/> over the last hour, once it counts <paramref name="events"/>.</summary>
    private async Task<List<JsonObject>> BreakdownAsync(string key, string groupBy, int events)
    {
        using var query = ProcessingStack.ClientFor(stack.QueryApi, key);
        var range = $"from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-1).ToString("O"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(1).ToString("O"))}";
        JsonObject? answer = null;
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            answer = await query.GetFromJsonAsync<JsonObject>($"/v1/usage/breakdown?{range}&group_by={groupBy}");
            return (long)answer!["totals"]!["events"]! == events;
        }, Patience, $"{events} events stored");
        return [.. answer!["rows"]!.AsArray().OfType<JsonObject>()];
    }

    private static decimal Rate(JsonNode rates, string field) =>
        decimal.Parse(rates[field]!.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture);
}
