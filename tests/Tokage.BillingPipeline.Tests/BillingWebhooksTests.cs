using System.Net;
using System.Text.Json.Nodes;
using Tokage.Webhooks;

namespace Tokage.BillingPipeline.Tests;

/// <summary>
/// Billing webhooks through a billing-pipeline process: invoices issued, paid and voided and a credit grant drawn to
/// nothing are each reported once, signed, to a real local endpoint that fails the first call — the retry carries the
/// same event id — and the events API shows every delivery.
/// </summary>
[Collection(BillingOutputsCollection.Name)]
public sealed class BillingWebhooksTests(BudgetFixture fixture)
{
    [Fact]
    public async Task InvoicesAndADepletedGrantAreReportedOnceSignedAndRetriedUnderTheSameEventId()
    {
        using var receiver = new WebhookReceiver(failFirst: 1);
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("billing-webhooks"))["tenant_id"]!;
        var thisMonth = new DateOnly(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1);
        var (first, second) = (thisMonth.AddMonths(-2), thisMonth.AddMonths(-1));
        var at = (DateOnly day) => day.ToDateTime(new TimeOnly(12, 0), DateTimeKind.Utc);
        await fixture.Writer.WriteEventsAsync([
            .. Enumerable.Range(0, 15).Select(i => BillingApi.Event(tenant, at(first).AddMinutes(i), "acme", 300_000, 0.123m)),
            BillingApi.Event(tenant, at(second.AddDays(1)), "acme", 300_000, 0.123m),
        ]);

        var billing = await fixture.StartBillingPipelineAsync(new() { ["Tokage__Billing__WebhookRetryBaseDelay"] = "00:00:00.200" });
        using var api = await BillingApi.ForTenantAsync(fixture, billing, tenant);

        // Bad webhooks are refused by field; the secret is shown once.
        var (status, problem) = await api.SendAsync(HttpMethod.Post, "/v1/billing/webhooks", new { url = "ftp://billing.example/hook" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("http or https", (string)problem!["errors"]!["url"]![0]!);
        (status, problem) = await api.SendAsync(HttpMethod.Post, "/v1/billing/webhooks", new { url = receiver.Url, events = new[] { "invoice.exploded" } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("'invoice.exploded' is not a billing event", (string)problem!["errors"]!["events"]![0]!);
        var hook = await api.OkAsync(HttpMethod.Post, "/v1/billing/webhooks", new { url = receiver.Url });
        var secret = (string)hook["signing_secret"]!;
        Assert.StartsWith("whsec_", secret);
        Assert.Equal(["invoice.issued", "invoice.voided", "invoice.paid", "credit_grant.depleted"], hook["events"]!.AsArray().Select(e => (string)e!));
        var listed = (await api.OkAsync(HttpMethod.Get, "/v1/billing/webhooks"))["webhooks"]!.AsArray();
        Assert.Null(Assert.Single(listed)!["signing_secret"]);

        // 15 × 300,000 = 4.5M input: the first period's invoice is 21.71 (BillingFlowTests' plan), 15.00 of it from the grant.
        await api.OkAsync(HttpMethod.Patch, "/v1/billing/settings", new { grace_hours = 0 });
        await api.OkAsync(HttpMethod.Post, "/v1/customers", new { external_id = "acme", name = "Acme Corp" });
        await api.OkAsync(HttpMethod.Post, "/v1/plans", BillingFlowTests.Plan);
        var grant = await api.OkAsync(HttpMethod.Post, "/v1/credit-grants", new { customer = "acme", amount_usd = "15.00", effective_at = at(first.AddDays(-30)).ToString("O") });
        await api.OkAsync(HttpMethod.Post, "/v1/subscriptions", new { customer = "acme", plan = "pro", start_date = first.ToString("yyyy-MM-dd"), anchor_day = 1 });

        // The background pass and these runs race to issue: the events are recorded once all the same.
        var delivered = await DeliveredAsync(api, receiver, secret, 3);
        var invoices = (await api.OkAsync(HttpMethod.Get, "/v1/invoices?status=issued"))["invoices"]!.AsArray().OrderBy(i => (long)i!["number"]!).ToList();
        Assert.Equal(2, invoices.Count);
        await api.OkAsync(HttpMethod.Post, $"/v1/invoices/{invoices[0]!["id"]}/mark-paid");
        await api.OkAsync(HttpMethod.Post, $"/v1/invoices/{invoices[1]!["id"]}/void");
        delivered = await DeliveredAsync(api, receiver, secret, 5);
        for (var i = 0; i < 3; i++)
        {
            await api.OkAsync(HttpMethod.Post, "/v1/billing/run");
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        delivered = await DeliveredAsync(api, receiver, secret, 5);

        // Exactly once each: one event per change, whatever retried.
        Assert.Equal(5, delivered.Count);
        Assert.Equal(["credit_grant.depleted", "invoice.issued", "invoice.issued", "invoice.paid", "invoice.voided"], delivered.Values.Select(e => (string)e["type"]!).Order());
        var issuedFirst = delivered.Values.Single(e => (string)e["type"]! == "invoice.issued" && (long)e["data"]!["invoice"]!["number"]! == 1)["data"]!["invoice"]!;
        Assert.Equal((string)invoices[0]!["id"]!, (string)issuedFirst["id"]!);
        Assert.Equal(("acme", "21.71", "15.00", "6.71"), ((string)issuedFirst["customer"]!, (string)issuedFirst["subtotal_usd"]!, (string)issuedFirst["credits_usd"]!, (string)issuedFirst["total_usd"]!));
        var depleted = delivered.Values.Single(e => (string)e["type"]! == "credit_grant.depleted")["data"]!;
        Assert.Equal(((string)grant["id"]!, "acme", 1L, "15.00"),
            ((string)depleted["credit_grant"]!["id"]!, (string)depleted["credit_grant"]!["customer"]!, (long)depleted["invoice"]!["number"]!, (string)depleted["invoice"]!["drawn_usd"]!));
        Assert.Equal("paid", (string)delivered.Values.Single(e => (string)e["type"]! == "invoice.paid")["data"]!["invoice"]!["status"]!);
        Assert.Equal((string)invoices[1]!["id"]!, (string)delivered.Values.Single(e => (string)e["type"]! == "invoice.voided")["data"]!["invoice"]!["id"]!);

        // The endpoint failed the first call; that event came again, under the same id, and was then taken.
        var calls = receiver.Received.ToList();
        Assert.Equal(500, calls[0].Answered);
        var retried = (string)JsonNode.Parse(calls[0].Body)!["id"]!;
        Assert.Contains(calls.Skip(1), c => c.Answered == 200 && (string)JsonNode.Parse(c.Body)!["id"]! == retried);
        Assert.Equal(6, calls.Count);

        // The events API shows each delivery: the retried one after two attempts.
        var events = (await api.OkAsync(HttpMethod.Get, "/v1/billing/events"))["events"]!.AsArray();
        Assert.Equal(5, events.Count);
        Assert.All(events, e => Assert.Equal("delivered", (string)Assert.Single(e!["deliveries"]!.AsArray())!["status"]!));
        Assert.Equal(2, (int)events.Single(e => (string)e!["id"]! == retried)!["deliveries"]![0]!["attempts"]!);
        (status, _) = await api.SendAsync(HttpMethod.Get, "/v1/billing/events?type=invoice.lost");
        Assert.Equal(HttpStatusCode.BadRequest, status);

        // Another tenant sees none of it; a removed webhook is sent nothing more.
        using (var other = await BillingApi.ForNewTenantAsync(fixture, billing, "billing-webhooks-other"))
        {
            Assert.Empty((await other.OkAsync(HttpMethod.Get, "/v1/billing/events"))["events"]!.AsArray());
            Assert.Equal(HttpStatusCode.NotFound, (await other.SendAsync(HttpMethod.Delete, $"/v1/billing/webhooks/{hook["id"]}")).Status);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(HttpMethod.Delete, $"/v1/billing/webhooks/{hook["id"]}")).Status);
        Assert.Empty((await api.OkAsync(HttpMethod.Get, "/v1/billing/webhooks"))["webhooks"]!.AsArray());
    }

    /// <summary>Runs billing until the receiver has taken <paramref name="count"/> distinct events (each signature checked); the events by id.</summary>
    private static async Task<Dictionary<string, JsonNode>> DeliveredAsync(BillingApi api, WebhookReceiver receiver, string secret, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var taken = receiver.Received.Where(r => r.Answered == 200).ToList();
            Assert.All(receiver.Received, r => Assert.True(WebhookSignature.Verify(secret, r.Signature!, r.Body), "Every call is signed with the webhook's secret."));
            var events = taken.Select(r => JsonNode.Parse(r.Body)!).GroupBy(e => (string)e["id"]!).ToDictionary(g => g.Key, g => g.First());
            if (events.Count >= count || DateTime.UtcNow > deadline)
            {
                Assert.True(events.Count >= count, $"{events.Count} of {count} events delivered: {string.Join(", ", events.Values.Select(e => e["type"]))}");
                return events;
            }

            await api.OkAsync(HttpMethod.Post, "/v1/billing/run");
            await Task.Delay(300);
        }
    }
}
