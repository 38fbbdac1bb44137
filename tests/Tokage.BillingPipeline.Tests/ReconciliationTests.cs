using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Tokage.Analytics;

namespace Tokage.BillingPipeline.Tests;

/// <summary>
/// Reconciliation through a billing-pipeline process, with cost reports written to the providers' documented shapes
/// (OpenAI's Costs API, Anthropic's cost report as JSON and as CSV): a day that matches to the cent, a day off by a
/// cache-write price Tokage lacked, a model Tokage could not price; and reports refused whole, nothing stored.
/// </summary>
[Collection(BillingOutputsCollection.Name)]
public sealed class ReconciliationTests(BudgetFixture fixture)
{
    [Fact]
    public async Task ProviderReportsAreComparedPerDayAndModelAndTheDifferencesAreFlagged()
    {
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("billing-reconcile"))["tenant_id"]!;
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var (d1, d2, d3, d4) = (today.AddDays(-10), today.AddDays(-9), today.AddDays(-8), today.AddDays(-7));
        var noon = (DateOnly day) => day.ToDateTime(new TimeOnly(12, 0), DateTimeKind.Utc);
        await fixture.Writer.WriteEventsAsync([
            // d1: three gpt-4o calls, 0.50 each, by the snapshot name OpenAI bills under.
            .. Enumerable.Range(0, 3).Select(i => BillingApi.Event(tenant, noon(d1).AddMinutes(i), "acme", 1_000, 0.5m, model: "gpt-4o-2024-08-06")),
            // d2: one gpt-4o call by its alias, and two calls of a model the registry had no price for.
            BillingApi.Event(tenant, noon(d2), "acme", 1_000, 1m, model: "gpt-4o"),
            .. Enumerable.Range(0, 2).Select(i => Unpriced(tenant, noon(d2).AddMinutes(i), "openai", "o9-preview")),
            // d3: a Claude call priced without its cache write (the registry lacked the cache-write price): 2.00 where Anthropic billed 2.75.
            Anthropic(tenant, noon(d3), 2m),
            // Another tenant's usage on the same days is never in this tenant's figures.
            BillingApi.Event("another-tenant", noon(d1), "acme", 1_000, 7m, model: "gpt-4o-2024-08-06"),
        ]);

        var billing = await fixture.StartBillingPipelineAsync();
        using var api = await BillingApi.ForTenantAsync(fixture, billing, tenant);

        // OpenAI: the Costs API's answer, amounts as JSON numbers in dollars.
        var openAi = Bytes(new JsonObject
        {
            ["object"] = "page", ["has_more"] = false, ["next_page"] = null,
            ["data"] = new JsonArray(
                OpenAiBucket(d1, ("gpt-4o-2024-08-06, input", "1.2"), ("gpt-4o-2024-08-06, output", "0.3")),
                OpenAiBucket(d2, ("gpt-4o-2024-08-06, input", "1.00"), ("o9-preview, input", "0.42"))),
        });
        var (status, result) = await api.SendBytesAsync(HttpMethod.Post, "/v1/reconciliations?provider=openai", openAi, "application/json");
        Assert.True(status == HttpStatusCode.Created, result?.ToJsonString());
        Assert.Equal((d1.ToString("yyyy-MM-dd"), d3.ToString("yyyy-MM-dd")), ((string)result!["period_start"]!, (string)result["period_end"]!));
        var rows = result["rows"]!.AsArray().Select(r => r!).ToList();
        Assert.Equal([(d1, "gpt-4o", "1.5", "1.5", "0", false), (d2, "gpt-4o", "1", "1", "0", false), (d2, "o9-preview", "0.42", "0", "0.42", true)],
            rows.Select(r => (DateOnly.Parse((string)r["day"]!), (string)r["model"]!, (string)r["provider_amount_usd"]!, (string)r["tokage_amount_usd"]!,
                (string)r["difference_usd"]!, (bool)r["flagged"]!)));
        Assert.Equal(["gpt-4o-2024-08-06, input", "gpt-4o-2024-08-06, output"], rows[0]["line_items"]!.AsArray().Select(i => (string)i!));
        Assert.Equal((2L, 2L), ((long)rows[2]["unpriced_events"]!, (long)rows[2]["tokage_events"]!));
        Assert.Contains("could not price 2", (string)rows[2]["reason"]!);
        Assert.Equal($"/v1/events?from={d2:yyyy-MM-dd}T00:00:00Z&to={d3:yyyy-MM-dd}T00:00:00Z&filter[provider]=openai", (string)rows[2]["events_query"]!);
        Assert.Equal(("2.92", "2.5", "1"), ((string)result["provider_total_usd"]!, (string)result["tokage_total_usd"]!, result["flagged_rows"]!.ToString()));

        // Anthropic: the cost report, amounts as decimal strings in cents.
        var anthropic = Bytes(new JsonObject
        {
            ["has_more"] = false, ["next_page"] = null,
            ["data"] = new JsonArray(new JsonObject
            {
                ["starting_at"] = $"{d3:yyyy-MM-dd}T00:00:00Z", ["ending_at"] = $"{d4:yyyy-MM-dd}T00:00:00Z",
                ["results"] = new JsonArray(
                    AnthropicResult("150.00", "uncached_input_tokens"), AnthropicResult("50.00", "output_tokens"),
                    AnthropicResult("75.00", "cache_creation.ephemeral_5m_input_tokens")),
            }),
        });
        (status, result) = await api.SendBytesAsync(HttpMethod.Post, "/v1/reconciliations?provider=anthropic", anthropic, "application/json");
        Assert.True(status == HttpStatusCode.Created, result?.ToJsonString());
        var claude = Assert.Single(result!["rows"]!.AsArray())!;
        Assert.Equal(("claude-sonnet-4", "2.75", "2", "0.75", "27.2727", true),
            ((string)claude["model"]!, (string)claude["provider_amount_usd"]!, (string)claude["tokage_amount_usd"]!, (string)claude["difference_usd"]!,
             (string)claude["difference_percent"]!, (bool)claude["flagged"]!));
        Assert.Equal("The amounts differ by more than the threshold.", (string)claude["reason"]!);

        // Anthropic as CSV, the next day: billed where Tokage metered nothing.
        var csv = Encoding.UTF8.GetBytes($"starting_at,model,description,token_type,currency,amount\n{d4:yyyy-MM-dd}T00:00:00Z,claude-sonnet-4-20250514,\"Claude Sonnet 4 Usage - Input Tokens\",uncached_input_tokens,USD,12.5\n");
        (status, result) = await api.SendBytesAsync(HttpMethod.Post, "/v1/reconciliations?provider=anthropic&threshold_percent=1", csv, "text/csv");
        Assert.True(status == HttpStatusCode.Created, result?.ToJsonString());
        var unmetered = Assert.Single(result!["rows"]!.AsArray())!;
        Assert.Equal(("0.125", "0", true, "Tokage metered no events of this model on this day."),
            ((string)unmetered["provider_amount_usd"]!, (string)unmetered["tokage_amount_usd"]!, (bool)unmetered["flagged"]!, (string)unmetered["reason"]!));
        Assert.Equal("1", (string)result["threshold_percent"]!);

        // Bad reports are a 400 naming the problem, and nothing of them is stored.
        var before = (await api.OkAsync(HttpMethod.Get, "/v1/reconciliations"))["reconciliations"]!.AsArray().Count;
        Assert.Equal(3, before);
        await RefusedAsync(api, "provider=openai", openAi, "application/json", "report", "overlap");
        await RefusedAsync(api, "provider=openai", Bytes(new JsonObject { ["buckets"] = new JsonArray() }), "application/json", "report", "'data' array");
        var inEuros = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Bytes(new JsonObject { ["data"] = new JsonArray(OpenAiBucket(today.AddDays(-30), ("gpt-4o, input", "1"))) }))
            .Replace("\"usd\"", "\"eur\"", StringComparison.Ordinal));
        await RefusedAsync(api, "provider=openai", inEuros, "application/json", "data[0].results[0]", "'eur'");
        await RefusedAsync(api, "provider=openai", Encoding.UTF8.GetBytes("{\"data\": [{\"start_time\": 1, \"end_time\": 7201, \"results\": []}]}"), "application/json", "data[0]", "not one UTC day");
        await RefusedAsync(api, "provider=openai", Encoding.UTF8.GetBytes("{\"data\": [ not json"), "application/json", "report", "not valid JSON");
        await RefusedAsync(api, "provider=anthropic", Encoding.UTF8.GetBytes($"{{\"data\": [{{\"starting_at\": \"{d4:yyyy-MM-dd}T00:00:00Z\", \"ending_at\": \"{d4.AddDays(1):yyyy-MM-dd}T00:00:00Z\", \"results\": [42]}}]}}"),
            "application/json", "data[0].results[0]", "is an object");
        await RefusedAsync(api, "provider=openai", csv, "text/csv", "format", "JSON");
        await RefusedAsync(api, "provider=aws", openAi, "application/json", "provider", "openai or anthropic");
        await RefusedAsync(api, "provider=anthropic", Encoding.UTF8.GetBytes("model,amount\nclaude,1\n"), "text/csv", "report", "day column");
        Assert.Equal(before, (await api.OkAsync(HttpMethod.Get, "/v1/reconciliations"))["reconciliations"]!.AsArray().Count);

        // Deleting one lets its days be reconciled again; another tenant sees none of them.
        var first = (await api.OkAsync(HttpMethod.Get, "/v1/reconciliations"))["reconciliations"]!.AsArray().Single(r => (string)r!["provider"]! == "openai")!;
        Assert.Equal(3, (await api.OkAsync(HttpMethod.Get, $"/v1/reconciliations/{first["id"]}"))["rows"]!.AsArray().Count);
        using (var other = await BillingApi.ForNewTenantAsync(fixture, billing, "billing-reconcile-other"))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await other.SendAsync(HttpMethod.Get, $"/v1/reconciliations/{first["id"]}")).Status);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(HttpMethod.Delete, $"/v1/reconciliations/{first["id"]}")).Status);

        // The operator's CLI uploads the report file again: the same comparison.
        var file = Path.Combine(Path.GetTempPath(), $"openai-costs-{Guid.NewGuid():N}.json");
        await File.WriteAllBytesAsync(file, openAi);
        string[] cli = ["--url", fixture.Stack.ControlPlane.HttpUri.ToString(), "--billing-url", billing.HttpUri.ToString(), "--admin-token", ControlPlaneStack.AdminToken, "--tenant", "billing-reconcile"];
        var reconciled = await CliProcess.RunAsync(["reconcile", file, "--provider", "openai", .. cli]);
        File.Delete(file);
        Assert.True(reconciled.ExitCode == 0, reconciled.Stderr);
        Assert.Contains("the provider billed 2.92 USD, Tokage metered 2.5 USD; 1 of 3 rows flagged", reconciled.Stdout);
        Assert.Contains("o9-preview", reconciled.Stdout);
        var refused = await CliProcess.RunAsync(["reconcile", file, "--provider", "openai", .. cli]);
        Assert.Equal(1, refused.ExitCode);
    }

    private static async Task RefusedAsync(BillingApi api, string query, byte[] report, string mediaType, string field, string says)
    {
        var (status, problem) = await api.SendBytesAsync(HttpMethod.Post, $"/v1/reconciliations?{query}", report, mediaType);
        Assert.True(status == HttpStatusCode.BadRequest, $"{query}: {(int)status} {problem?.ToJsonString()}");
        Assert.Contains(says, (string)problem!["errors"]![field]![0]!);
    }

    private static byte[] Bytes(JsonNode json) => Encoding.UTF8.GetBytes(json.ToJsonString());

    private static JsonObject OpenAiBucket(DateOnly day, params (string LineItem, string Usd)[] results)
    {
        var start = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToUnixTimeSeconds();
        return new JsonObject
        {
            ["object"] = "bucket", ["start_time"] = start, ["end_time"] = start + 86_400,
            // The amount as the API writes it: a JSON number, kept exact from its text.
            ["results"] = new JsonArray([.. results.Select(r => (JsonNode)new JsonObject
            {
                ["object"] = "organization.costs.result",
                ["amount"] = new JsonObject { ["value"] = JsonNode.Parse(r.Usd), ["currency"] = "usd" },
                ["line_item"] = r.LineItem, ["project_id"] = "proj_support",
            })]),
        };
    }

    private static JsonObject AnthropicResult(string cents, string tokenType) => new()
    {
        ["currency"] = "USD", ["amount"] = cents, ["workspace_id"] = null, ["description"] = "Claude Sonnet 4 Usage", ["cost_type"] = "tokens",
        ["context_window"] = "0-200k", ["model"] = "claude-sonnet-4-20250514", ["service_tier"] = "standard", ["token_type"] = tokenType,
    };

    private static UsageEventRow Unpriced(string tenant, DateTime at, string provider, string model) => new()
    {
        TenantId = tenant, EventId = Guid.NewGuid().ToString("N"), EventTime = at, IngestTime = at, Provider = provider, Model = model,
        Customer = "acme", InputTokens = 1_000, OutputTokens = 10, Priced = false,
    };

    private static UsageEventRow Anthropic(string tenant, DateTime at, decimal cost) => new()
    {
        TenantId = tenant, EventId = Guid.NewGuid().ToString("N"), EventTime = at, IngestTime = at, Provider = "anthropic", Model = "claude-sonnet-4-20250514",
        Customer = "acme", InputTokens = 100_000, CacheWriteTokens = 20_000, OutputTokens = 2_000, Priced = true, CostUsd = cost,
    };
}
