using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Tokage.Pricing;

namespace Tokage.PriceRegistry.Tests;

/// <summary>New versions through the admin API: one at a time, tenants' overrides, and LiteLLM documents as diffs.</summary>
[Collection(RegistryCollection.Name)]
public sealed class PriceWritesTests(Registry registry)
{
    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    [Fact]
    public async Task APostedVersionPricesEventsFromItsInstantOn()
    {
        var (_, today) = await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4.1&at=2030-12-31T23:59:59Z");

        // A JSON number with more digits than a double holds: it must arrive exactly.
        var (status, created) = await registry.PostAsync("/v1/prices", Json("""
            {"provider": "openai", "model": "gpt-4.1", "effective_from": "2031-01-01T00:00:00Z",
             "prices": {"input_cost_per_token": "0.0000018", "output_cost_per_token": 0.00000712345678901234567891},
             "source": "price cut announced 2030-12-01"}
            """));

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("gpt-4.1", (string)created!["model"]!);
        Assert.False((bool)created["override"]!);
        Assert.Equal("price cut announced 2030-12-01", (string)created["source"]!);
        Assert.Equal("0.0000018", (string)created["prices"]!["input_cost_per_token"]!);
        Assert.Equal("0.00000712345678901234567891", (string)created["prices"]!["output_cost_per_token"]!);

        // The same event instant, one tick either side of the start, prices differently.
        var (_, before) = await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4.1&at=2030-12-31T23:59:59.999Z");
        var (_, after) = await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4.1&at=2031-01-01T00:00:00Z");
        Assert.Equal((long)today!["version_id"]!, (long)before!["version_id"]!);
        Assert.Equal("0.000002", (string)before["prices"]!["input_cost_per_token"]!);
        Assert.Equal((long)created["version_id"]!, (long)after!["version_id"]!);
        Assert.Equal("0.0000018", (string)after["prices"]!["input_cost_per_token"]!);

        var (_, history) = await registry.GetAsync("/v1/prices/openai/gpt-4.1/history");
        Assert.Equal((long)created["version_id"]!, (long)history!["versions"]!.AsArray()[^1]!["version_id"]!);
    }

    [Fact]
    public async Task ACorrectionTakesEffectAtTheCorrectedInstantAndQueuesARepricingOfItsEvents()
    {
        var tenant = "tenant-" + Guid.NewGuid().ToString("N");
        var (_, original) = await registry.PostAsync("/v1/prices", new
        {
            provider = "anthropic", model = "claude-sonnet-4-5", tenant_id = tenant, effective_from = "2026-06-01T00:00:00Z",
            prices = new { input_cost_per_token = "0.0000015", output_cost_per_token = "0.0000075" },
        });
        var id = (long)original!["version_id"]!;
        Assert.NotNull(original["repricing_id"]);

        var (status, answer) = await registry.PostAsync($"/v1/prices/{id}/corrections", Json("""
            {"prices": {"input_cost_per_token": "0.000003", "output_cost_per_token": "0.000015"}, "source": "contract signed 2026-06-10"}
            """));

        Assert.Equal(HttpStatusCode.Accepted, status);
        var correction = answer!["correction"]!;
        Assert.Equal((id, "contract signed 2026-06-10"), ((long)correction["corrects"]!, (string)correction["source"]!));
        var repricing = answer["repricing"]!;
        Assert.Equal(("correction", id, tenant), ((string)repricing["kind"]!, (long)repricing["corrects"]!, (string)repricing["tenant_id"]!));

        // From the corrected instant on, the correction is the price; before it, the public one, as before.
        var (_, now) = await registry.GetAsync($"/v1/prices?provider=anthropic&model=claude-sonnet-4-5&at=2026-06-05T00:00:00Z&tenant_id={tenant}", token: Registry.AdminToken);
        Assert.Equal(((long)correction["version_id"]!, "0.000003"), ((long)now!["version_id"]!, (string)now["prices"]!["input_cost_per_token"]!));

        // A correction of the correction corrects the original; this registry has no usage store, so repricings wait queued.
        var (_, again) = await registry.PostAsync($"/v1/prices/{(long)correction["version_id"]!}/corrections", Json("""{"prices": {"input_cost_per_token": "0.000003"}}"""));
        Assert.Equal(id, (long)again!["correction"]!["corrects"]!);
        var (jobStatus, job) = await registry.GetAsync($"/v1/repricings/{(long)repricing["repricing_id"]!}", token: Registry.AdminToken);
        Assert.Equal((HttpStatusCode.OK, "queued", 0L), (jobStatus, (string)job!["status"]!, (long)job["events_scanned"]!));

        var (_, history) = await registry.GetAsync($"/v1/prices/anthropic/claude-sonnet-4-5/history?tenant_id={tenant}", token: Registry.AdminToken);
        Assert.Equal([null, id, id], history!["versions"]!.AsArray().Select(v => (long?)v!["corrects"]));
    }

    [Fact]
    public async Task BadCorrectionsAreRefusedAndNothingIsWritten()
    {
        var seeded = await registry.CountAsync();
        var (_, gpt) = await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4o");
        var id = (long)gpt!["version_id"]!;

        var (missing, _) = await registry.PostAsync("/v1/prices/999999999/corrections", Json("""{"prices": {"input_cost_per_token": "0.000001"}}"""));
        var (bad, problem) = await registry.PostAsync($"/v1/prices/{id}/corrections", Json("""{"prices": {"input_cost_per_token": "-1"}, "effective_from": "2026-01-01T00:00:00Z"}"""));
        var (unauthorized, _) = await registry.PostAsync($"/v1/prices/{id}/corrections", Json("""{"prices": {"input_cost_per_token": "0.000001"}}"""), token: "");
        var (noJob, _) = await registry.GetAsync("/v1/repricings/999999999", token: Registry.AdminToken);

        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.BadRequest, HttpStatusCode.Unauthorized, HttpStatusCode.NotFound), (missing, bad, unauthorized, noJob));
        Assert.Equal(["effective_from", "prices.input_cost_per_token"], problem!["errors"]!.AsObject().Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.Equal(seeded, await registry.CountAsync());
    }

    [Fact]
    public async Task BadVersionsAreRefusedNamingEachField()
    {
        var seeded = await registry.CountAsync();

        var (status, problem) = await registry.PostAsync("/v1/prices", Json("""
            {"model": "gpt-4.1", "efective_from": "2031-05-01T00:00:00Z",
             "prices": {"input_cost_per_token": "-0.000001", "output_cost_per_token": "cheap", "input_cost_per_character": "0.1"}}
            """));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = problem!["errors"]!.AsObject();
        Assert.Equal(
            ["efective_from", "prices.input_cost_per_character", "prices.input_cost_per_token", "prices.output_cost_per_token", "provider"],
            errors.Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.Contains("negative", (string)errors["prices.input_cost_per_token"]![0]!);

        var (missing, nothing) = await registry.PostAsync("/v1/prices", new { provider = "openai" });
        Assert.Equal(HttpStatusCode.BadRequest, missing);
        Assert.Equal(["model", "prices"], nothing!["errors"]!.AsObject().Select(e => e.Key).Order(StringComparer.Ordinal));

        var (floatOnly, noRate) = await registry.PostAsync("/v1/prices", new { provider = "openai", model = "gpt-4.1", prices = new { cache_read_input_token_cost = "0.0000005" } });
        Assert.Equal(HttpStatusCode.BadRequest, floatOnly);
        Assert.Contains("input_cost_per_token", (string)noRate!["errors"]!["prices"]![0]!);

        // A known model keeps its provider: "gpt-4o" is OpenAI's, not Anthropic's.
        var (wrongProvider, mismatch) = await registry.PostAsync("/v1/prices", new { provider = "anthropic", model = "gpt-4o", prices = new { input_cost_per_token = "0.000001" } });
        Assert.Equal(HttpStatusCode.BadRequest, wrongProvider);
        Assert.Contains("openai", (string)mismatch!["errors"]!["provider"]![0]!);

        var (notJson, _) = await registry.PostAsync("/v1/prices", Json("{\"provider\": "));
        Assert.Equal(HttpStatusCode.BadRequest, notJson);

        Assert.Equal(seeded, await registry.CountAsync());
    }

    [Fact]
    public async Task WritesAndOverridesNeedTheAdminToken()
    {
        var version = new { provider = "openai", model = "gpt-4.1", effective_from = "2031-06-01T00:00:00Z", prices = new { input_cost_per_token = "0.000001" } };

        using (var http = new HttpClient { BaseAddress = registry.Service.HttpUri })
        using (var anonymous = await http.PostAsync("/v1/prices", Json("{}")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.Single().Scheme);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await registry.PostAsync("/v1/prices", version, token: "not-the-admin-token-at-all")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await registry.PostAsync("/v1/prices/import", Json("{}"), token: "")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4o&tenant_id=acme")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await registry.GetAsync("/v1/prices/openai/gpt-4o/history?tenant_id=acme")).Status);
        Assert.Equal(HttpStatusCode.OK, (await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4o&tenant_id=acme", token: Registry.AdminToken)).Status);

        // Public reads stay public.
        Assert.Equal(HttpStatusCode.OK, (await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4o")).Status);
        var (_, history) = await registry.GetAsync("/v1/prices/openai/gpt-4.1/history");
        Assert.DoesNotContain(history!["versions"]!.AsArray(), v => (string)v!["effective_from"]! == "2031-06-01T00:00:00+00:00");
    }

    [Fact]
    public async Task AVersionAlreadyAtThatInstantIsAConflict()
    {
        var version = new { provider = "openai", model = "o3", effective_from = "2031-02-01T00:00:00Z", prices = new { input_cost_per_token = "0.0000015", output_cost_per_token = "0.000006" } };
        var (first, created) = await registry.PostAsync("/v1/prices", version);
        Assert.Equal(HttpStatusCode.Created, first);

        var (second, conflict) = await registry.PostAsync("/v1/prices", version);
        Assert.Equal(HttpStatusCode.Conflict, second);
        Assert.Contains($"version {(long)created!["version_id"]!}", (string)conflict!["detail"]!);

        // The instant is taken per tenant: an override may start at the same instant as the public price.
        var (overrideStatus, _) = await registry.PostAsync("/v1/prices", new { version.provider, version.model, version.effective_from, version.prices, tenant_id = "tenant-dup" });
        Assert.Equal(HttpStatusCode.Created, overrideStatus);
    }

    [Fact]
    public async Task AnOverrideWinsOnlyForItsTenantAndFromItsStart()
    {
        var (status, created) = await registry.PostAsync("/v1/prices", new
        {
            provider = "anthropic", model = "claude-sonnet-4-5", effective_from = "2030-01-01T00:00:00Z", tenant_id = "tenant-a",
            prices = new { input_cost_per_token = "0.0000024", output_cost_per_token = "0.000012" }, source = "contract 2030-17",
        });
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.True((bool)created!["override"]!);
        Assert.Equal("tenant-a", (string)created["tenant_id"]!);

        async Task<JsonNode> Price(string query, string model = "claude-sonnet-4-5")
        {
            var (code, body) = await registry.GetAsync($"/v1/prices?provider=anthropic&model={model}&{query}", token: Registry.AdminToken);
            Assert.Equal(HttpStatusCode.OK, code);
            return body!;
        }

        var negotiated = await Price("at=2030-06-01T00:00:00Z&tenant_id=tenant-a");
        Assert.True((bool)negotiated["override"]!);
        Assert.Equal("0.0000024", (string)negotiated["prices"]!["input_cost_per_token"]!);
        // A dated name resolves among the tenant's overrides too.
        var dated = await Price("at=2030-06-01T00:00:00Z&tenant_id=tenant-a", model: "claude-sonnet-4-5-20991231");
        Assert.Equal((long)created["version_id"]!, (long)dated["version_id"]!);

        foreach (var query in new[] { "at=2030-06-01T00:00:00Z&tenant_id=tenant-b", "at=2030-06-01T00:00:00Z", "at=2029-12-31T23:59:59Z&tenant_id=tenant-a" })
        {
            var listed = await Price(query);
            Assert.False((bool)listed["override"]!);
            Assert.Equal("0.000003", (string)listed["prices"]!["input_cost_per_token"]!);
        }

        var (_, history) = await registry.GetAsync("/v1/prices/anthropic/claude-sonnet-4-5/history?tenant_id=tenant-a", token: Registry.AdminToken);
        Assert.True((bool)history!["override"]!);
        Assert.Equal([(long)created["version_id"]!], history["versions"]!.AsArray().Select(v => (long)v!["version_id"]!));

        // A custom (fine-tuned) model exists for its tenant alone.
        const string custom = "ft:gpt-4o-mini:tenant-a:support:7p4lURel";
        Assert.Equal(HttpStatusCode.Created, (await registry.PostAsync("/v1/prices", new
        {
            provider = "openai", model = custom, effective_from = "2026-01-01T00:00:00Z", tenant_id = "tenant-a",
            prices = new { input_cost_per_token = "0.0000003", output_cost_per_token = "0.0000012" },
        })).Status);
        var (mine, ownModel) = await registry.GetAsync($"/v1/prices?provider=openai&model={Uri.EscapeDataString(custom)}&tenant_id=tenant-a", token: Registry.AdminToken);
        Assert.Equal(HttpStatusCode.OK, mine);
        Assert.Equal("0.0000012", (string)ownModel!["prices"]!["output_cost_per_token"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await registry.GetAsync($"/v1/prices?provider=openai&model={Uri.EscapeDataString(custom)}&tenant_id=tenant-b", token: Registry.AdminToken)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await registry.GetAsync($"/v1/prices?provider=openai&model={Uri.EscapeDataString(custom)}")).Status);
    }

    [Fact]
    public async Task AnImportReportsItsDiffAndWritesItOnce()
    {
        const string at = "2032-01-01T00:00:00Z";
        var (_, haiku) = await registry.GetAsync($"/v1/prices?provider=anthropic&model=claude-haiku-4-5&at={at}");
        var unchanged = new JsonObject { ["litellm_provider"] = "anthropic", ["mode"] = "chat", ["max_tokens"] = 64000 };
        foreach (var (name, value) in haiku!["prices"]!.AsObject())
        {
            // As LiteLLM writes them: JSON numbers, in exponent form.
            unchanged[name] = JsonNode.Parse(decimal.Parse((string)value!, System.Globalization.CultureInfo.InvariantCulture).ToString("0.##########E+0", System.Globalization.CultureInfo.InvariantCulture));
        }

        var document = new JsonObject
        {
            ["sample_spec"] = new JsonObject { ["input_cost_per_token"] = 0.0, ["litellm_provider"] = "one of …" },
            ["gpt-4o-mini"] = JsonNode.Parse("""{"litellm_provider": "openai", "input_cost_per_token": 1.2e-07, "output_cost_per_token": 6e-07, "cache_read_input_token_cost": 6e-08}"""),
            ["claude-haiku-4-5"] = unchanged,
            ["tokage-test/new-model"] = JsonNode.Parse("""{"litellm_provider": "tokage-test", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}"""),
        }.ToJsonString();
        var before = await registry.CountAsync();
        var (_, oldMini) = await registry.GetAsync($"/v1/prices?provider=openai&model=gpt-4o-mini&at={at}");

        var (dryStatus, dry) = await registry.PostAsync($"/v1/prices/import?effective_from={at}&dry_run=true", Json(document));
        Assert.Equal(HttpStatusCode.OK, dryStatus);
        Assert.Equal((1, 1, 1), ((int)dry!["added"]!, (int)dry["changed"]!, (int)dry["unchanged"]!));
        Assert.Equal(before, await registry.CountAsync());

        var (status, diff) = await registry.PostAsync($"/v1/prices/import?effective_from={at}", Json(document));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((1, 1, 1), ((int)diff!["added"]!, (int)diff["changed"]!, (int)diff["unchanged"]!));
        var models = diff["models"]!.AsArray().ToDictionary(m => (string)m!["model"]!);
        Assert.Equal(["gpt-4o-mini", "tokage-test/new-model"], models.Keys.Order(StringComparer.Ordinal));

        var mini = models["gpt-4o-mini"]!;
        Assert.Equal("changed", (string)mini["change"]!);
        Assert.Equal((long)oldMini!["version_id"]!, (long)mini["previous_version_id"]!);
        Assert.Equal((string)oldMini["prices"]!["input_cost_per_token"]!, (string)mini["fields"]!["input_cost_per_token"]!["before"]!);
        Assert.Equal("0.00000012", (string)mini["fields"]!["input_cost_per_token"]!["after"]!);
        // An equal value is no change, however it is written (6e-07 = 0.0000006).
        Assert.Null(mini["fields"]!["output_cost_per_token"]);

        var added = models["tokage-test/new-model"]!;
        Assert.Equal("added", (string)added["change"]!);
        Assert.Null(added["fields"]!["input_cost_per_token"]!["before"]);
        Assert.Equal("0.000001", (string)added["fields"]!["input_cost_per_token"]!["after"]!);
        Assert.Equal(before + 2, await registry.CountAsync());

        var (_, newMini) = await registry.GetAsync($"/v1/prices?provider=openai&model=gpt-4o-mini&at={at}");
        Assert.Equal((long)mini["version_id"]!, (long)newMini!["version_id"]!);
        Assert.Equal("import", (string)newMini["source"]!);
        var (_, stillOld) = await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4o-mini&at=2031-12-31T23:59:59Z");
        Assert.Equal((long)oldMini["version_id"]!, (long)stillOld!["version_id"]!);

        // The same document again: nothing to write.
        var (_, again) = await registry.PostAsync($"/v1/prices/import?effective_from={at}", Json(document));
        Assert.Equal((0, 0, 3), ((int)again!["added"]!, (int)again["changed"]!, (int)again["unchanged"]!));
        Assert.Empty(again["models"]!.AsArray());
        Assert.Equal(before + 2, await registry.CountAsync());
    }

    [Fact]
    public async Task TheShippedSnapshotImportsAsNoChangeOnTheSeededRegistry()
    {
        var (status, diff) = await registry.PostAsync("/v1/prices/import?dry_run=true", new ByteArrayContent(ShippedPrices.SnapshotDocument())
        {
            Headers = { ContentType = new MediaTypeHeaderValue("application/json") },
        });

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((0, 0), ((int)diff!["added"]!, (int)diff["changed"]!));
        Assert.True((int)diff["unchanged"]! > 2_000);
    }

    [Fact]
    public async Task AnImportWithABadPriceWritesNothing()
    {
        var before = await registry.CountAsync();
        var (status, problem) = await registry.PostAsync("/v1/prices/import?effective_from=2033-01-01T00:00:00Z", Json("""
            {"gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 1e-06},
             "broken-model": {"litellm_provider": "openai", "input_cost_per_token": -1e-06}}
            """));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(["broken-model"], problem!["errors"]!.AsObject().Select(e => e.Key));
        Assert.Equal(before, await registry.CountAsync());
    }

    [Fact]
    public async Task WithoutAConfiguredTokenWritesAreUnavailableNotOpen()
    {
        var environment = registry.Environment;
        environment.Remove("Tokage__PriceRegistry__AdminToken");
        await using var replica = await ServiceProcess.StartAsync("PriceRegistry", environment);

        var (status, problem) = await registry.PostAsync("/v1/prices", new { provider = "openai", model = "gpt-4o", prices = new { input_cost_per_token = "0" } }, service: replica.HttpUri);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("no admin token is configured", (string)problem!["detail"]!);
        Assert.Equal(HttpStatusCode.OK, (await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4o", replica.HttpUri)).Status);
    }
}
