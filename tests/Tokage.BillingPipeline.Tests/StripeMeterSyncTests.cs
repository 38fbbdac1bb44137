using System.Net;
using System.Text.Json.Nodes;
using Npgsql;

namespace Tokage.BillingPipeline.Tests;

/// <summary>
/// Stripe meter sync through Stripe.net against a local fake of Stripe's meter events endpoint: a plan whose charges name
/// Stripe meters sends each customer's hourly quantities once, whatever 429s, 500s, a lost answer and a kill -9 of the
/// billing pipeline in between; late usage goes as a further event for its hour; a refused customer is parked with
/// Stripe's message; the secret key is stored encrypted and never shown.
/// </summary>
public sealed class StripeMeterSyncTests(BudgetFixture fixture) : IClassFixture<BudgetFixture>
{
    private const string SecretKey = "sk_test_51TokageFakeKey0123456789";

    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Tokage__Stripe__KeyEncryptionKey"] = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()),
        ["Tokage__Stripe__SyncInterval"] = "00:00:01",
        ["Tokage__Stripe__RetryBaseDelay"] = "00:00:00.200",
        ["Tokage__Stripe__HourSettle"] = "00:00:00",
    };

    [Fact]
    public async Task EveryHoursQuantityReachesStripeOnceThroughFailuresACrashAndLateUsage()
    {
        await using var stripe = await FakeStripe.StartAsync(SecretKey, "cus_acme");
        var settings = new Dictionary<string, string>(Settings) { ["Tokage__Stripe__ApiBase"] = stripe.ApiBase.ToString() };
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("stripe-sync"))["tenant_id"]!;
        var now = DateTimeOffset.UtcNow;
        var (early, later) = (Hour(now.AddHours(-3)), Hour(now.AddHours(-2)));
        await fixture.Writer.WriteEventsAsync([
            .. Enumerable.Range(0, 3).Select(i => BillingApi.Event(tenant, early.UtcDateTime.AddMinutes(i), "acme", 1_000, 0.0015m)),
            BillingApi.Event(tenant, later.UtcDateTime.AddMinutes(5), "acme-eu", 2_500, 0.00375m),
            BillingApi.Event(tenant, later.UtcDateTime.AddMinutes(6), "ghost", 700, 0.001m),
        ]);

        // Failures first: a 429, a 500, and an event counted whose answer is lost (the retry gets Stripe's replay).
        foreach (var step in new[] { "429", "500", "lost" })
        {
            stripe.Script.Enqueue(step);
        }

        var billing = await fixture.StartBillingPipelineAsync(settings);
        using var api = await BillingApi.ForTenantAsync(fixture, billing, tenant);
        var connected = await api.OkAsync(HttpMethod.Put, "/v1/stripe/connection", new { secret_key = SecretKey });
        Assert.Equal(("sk_test_…6789", false), ((string)connected["key_hint"]!, (bool)connected["livemode"]!));
        Assert.DoesNotContain(SecretKey, connected.ToJsonString(), StringComparison.Ordinal);
        await api.OkAsync(HttpMethod.Post, "/v1/plans", new
        {
            key = "metered", name = "Metered",
            charges = new object[]
            {
                new { key = "input", meter = "input_tokens", price_model = "per_unit", unit_price_usd = "2", per_units = 1_000_000, stripe_meter_event_name = "tokage_input_tokens" },
                new { key = "calls", meter = "events", price_model = "per_unit", unit_price_usd = "0.01", stripe_meter_event_name = "tokage_calls" },
                new { key = "resale", meter = "cost_usd", price_model = "markup", markup_percent = "20", stripe_meter_event_name = "tokage_cost_micro_usd" },
            },
        });
        await api.OkAsync(HttpMethod.Post, "/v1/customers", new { external_id = "acme", aliases = new[] { "acme-eu" }, stripe_customer_id = "cus_acme" });
        await api.OkAsync(HttpMethod.Post, "/v1/customers", new { external_id = "ghost", stripe_customer_id = "cus_deleted_in_stripe" });
        var start = DateOnly.FromDateTime(now.UtcDateTime.AddDays(-3)).ToString("yyyy-MM-dd");
        await api.OkAsync(HttpMethod.Post, "/v1/subscriptions", new { customer = "acme", plan = "metered", start_date = start });
        await api.OkAsync(HttpMethod.Post, "/v1/subscriptions", new { customer = "ghost", plan = "metered", start_date = start });

        Task UntilAsync(Func<bool> sent, string what) => ControlPlaneStack.EventuallyAsync(() => Task.FromResult(sent()), TimeSpan.FromSeconds(60), what);
        await UntilAsync(() => stripe.Total("tokage_input_tokens", "cus_acme", early) == 3_000 && stripe.Total("tokage_input_tokens", "cus_acme", later) == 2_500
            && stripe.Total("tokage_calls", "cus_acme", early) == 3 && stripe.Total("tokage_cost_micro_usd", "cus_acme", later) == 3_750, "both hours reach Stripe");
        Assert.Equal(4_500, stripe.Total("tokage_cost_micro_usd", "cus_acme", early));
        Assert.Equal(1, stripe.Total("tokage_calls", "cus_acme", later));
        Assert.Contains(stripe.Requests, r => r.Status == 429);
        Assert.Contains(stripe.Requests, r => r.Status == 500);

        // A crash, then late usage for the early hour: a further event with its own identifier adds just the difference.
        await billing.KillAsync();
        await fixture.Writer.WriteEventsAsync([.. Enumerable.Range(0, 2).Select(i => BillingApi.Event(tenant, early.UtcDateTime.AddMinutes(30 + i), "acme", 1_000, 0.0015m))]);
        var restarted = await fixture.StartBillingPipelineAsync(settings);
        await UntilAsync(() => stripe.Total("tokage_input_tokens", "cus_acme", early) == 5_000 && stripe.Total("tokage_calls", "cus_acme", early) == 5, "the late usage reaches Stripe");
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(5_000, stripe.Total("tokage_input_tokens", "cus_acme", early));
        Assert.Equal(7_500, stripe.Total("tokage_cost_micro_usd", "cus_acme", early));
        Assert.Equal(2_500, stripe.Total("tokage_input_tokens", "cus_acme", later));
        var earlyInput = stripe.Counted.Values.Where(e => e.EventName == "tokage_input_tokens" && e.Timestamp == early.ToUnixTimeSeconds()).OrderBy(e => e.Value).ToList();
        Assert.Equal([2_000L, 3_000L], earlyInput.Select(e => e.Value));
        Assert.Equal(2, earlyInput.Select(e => e.Identifier).Distinct().Count());

        // The refused customer is parked with Stripe's message; the rest are sent, each once.
        using var restartedApi = await BillingApi.ForTenantAsync(fixture, restarted, tenant);
        var parked = (await restartedApi.OkAsync(HttpMethod.Get, "/v1/stripe/meter-events?status=parked"))["meter_events"]!.AsArray();
        Assert.Equal(3, parked.Count);
        Assert.All(parked, p => Assert.Equal(("ghost", "No such customer: 'cus_deleted_in_stripe'"), ((string)p!["customer"]!, (string)p["last_error"]!)));
        // A send whose answer was lost (or failed) stays pending until its retry, which Stripe answers from its first count.
        JsonNode status = null!;
        await ControlPlaneStack.EventuallyAsync(async () =>
            (long)(status = await restartedApi.OkAsync(HttpMethod.Get, "/v1/stripe/connection"))["meter_events"]!["pending"]! == 0, TimeSpan.FromSeconds(60), "every retry is answered");
        Assert.Equal((stripe.Counted.Count, 0L, 3L), ((int)(long)status["meter_events"]!["sent"]!, (long)status["meter_events"]!["pending"]!, (long)status["meter_events"]!["parked"]!));

        // The operator's CLI shows the same.
        string[] cli = ["--url", fixture.Stack.ControlPlane.HttpUri.ToString(), "--billing-url", restarted.HttpUri.ToString(), "--admin-token", ControlPlaneStack.AdminToken, "--tenant", "stripe-sync"];
        var shown = await CliProcess.RunAsync(["stripe", "status", .. cli]);
        Assert.True(shown.ExitCode == 0, shown.Stderr);
        Assert.Contains($"{stripe.Counted.Count} sent, 3 parked", shown.Stdout, StringComparison.Ordinal);
        var listed = await CliProcess.RunAsync(["stripe", "meter-events", "--status", "parked", "--json", .. cli]);
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        Assert.Equal(3, JsonNode.Parse(listed.Stdout)!["meter_events"]!.AsArray().Count);

        // At rest the key is ciphertext; the connection can be removed.
        var stored = await Tokage.Integrations.TenantTransactions.InTenantAsync(fixture.Database, Guid.Parse(tenant), async (c, t) =>
        {
            await using var read = new NpgsqlCommand("SELECT secret_key_protected FROM stripe_connections", c, t);
            return (string)(await read.ExecuteScalarAsync())!;
        }, CancellationToken.None);
        Assert.StartsWith("v1:", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("Tokage", stored, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NoContent, (await restartedApi.SendAsync(HttpMethod.Delete, "/v1/stripe/connection")).Status);
        Assert.False((bool)(await restartedApi.OkAsync(HttpMethod.Get, "/v1/stripe/connection"))["connected"]!);
    }

    [Fact]
    public async Task AKeyThatIsNotAStripeSecretKeyIsA400AndAPlanChargeWithABadMeterNameToo()
    {
        var billing = await fixture.StartBillingPipelineAsync(new Dictionary<string, string>(Settings));
        using var api = await BillingApi.ForNewTenantAsync(fixture, billing, "stripe-bad-input");
        var (status, body) = await api.SendAsync(HttpMethod.Put, "/v1/stripe/connection", new { secret_key = "pk_test_publishable123456" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("secret_key", body!["errors"]!.AsObject().Select(e => e.Key));
        (status, body) = await api.SendAsync(HttpMethod.Post, "/v1/plans", new
        {
            key = "p", name = "P", charges = new[] { new { key = "c", meter = "events", price_model = "per_unit", unit_price_usd = "1", stripe_meter_event_name = "has space" } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("charges[0].stripe_meter_event_name", body!["errors"]!.AsObject().Select(e => e.Key));
        Assert.False((bool)(await api.OkAsync(HttpMethod.Get, "/v1/stripe/connection"))["connected"]!);

        // The CLI reads the key from a file (never an argument) and connects.
        var keyFile = Path.Combine(Path.GetTempPath(), $"stripe-key-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(keyFile, SecretKey + "\n");
        try
        {
            var connected = await CliProcess.RunAsync(["stripe", "connect", "--secret-key-file", keyFile, "--url", fixture.Stack.ControlPlane.HttpUri.ToString(),
                "--billing-url", billing.HttpUri.ToString(), "--admin-token", ControlPlaneStack.AdminToken, "--tenant", "stripe-bad-input"]);
            Assert.True(connected.ExitCode == 0, connected.Stderr);
            Assert.Contains("sk_test_…6789", connected.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain(SecretKey, connected.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(keyFile);
        }

        Assert.True((bool)(await api.OkAsync(HttpMethod.Get, "/v1/stripe/connection"))["connected"]!);
    }

    private static DateTimeOffset Hour(DateTimeOffset at) => new(at.UtcTicks - at.UtcTicks % TimeSpan.TicksPerHour, TimeSpan.Zero);
}
