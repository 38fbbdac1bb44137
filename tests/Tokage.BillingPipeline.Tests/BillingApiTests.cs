using System.Net;

namespace Tokage.BillingPipeline.Tests;

/// <summary>The billing API's answers to bad requests, and tenant isolation. A stack of its own.</summary>
public sealed class BillingApiTests(BudgetFixture fixture) : IClassFixture<BudgetFixture>
{
    [Fact]
    public async Task EveryBadRequestNamesItsFieldAndNoTenantSeesAnothers()
    {
        var billing = await fixture.StartBillingPipelineAsync();
        using var a = await BillingApi.ForNewTenantAsync(fixture, billing, "billing-a");
        using var b = await BillingApi.ForNewTenantAsync(fixture, billing, "billing-b");
        using var readOnly = await BillingApi.ForNewTenantAsync(fixture, billing, "billing-read", ["read"]);

        await a.OkAsync(HttpMethod.Post, "/v1/customers", new { external_id = "globex", aliases = new[] { "gx" } });
        await a.OkAsync(HttpMethod.Post, "/v1/plans", BillingFlowTests.Plan);
        var second = await a.OkAsync(HttpMethod.Post, "/v1/plans", new { key = "pro", base_fee_usd = 12 });
        Assert.Equal(2, (int)second["version"]!);
        Assert.Equal(2, (await a.OkAsync(HttpMethod.Get, "/v1/plans/pro"))["versions"]!.AsArray().Count);
        var subscription = await a.OkAsync(HttpMethod.Post, "/v1/subscriptions", new { customer = "gx", plan = "pro", plan_version = 1, start_date = "2026-01-01" });

        // A plan change waits for the next period: the running one stays on version 1.
        var changed = await a.OkAsync(HttpMethod.Patch, $"/v1/subscriptions/{subscription["id"]}", new { plan = "pro", plan_version = 2 });
        var nextPeriod = new DateOnly(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1).AddMonths(1).ToString("yyyy-MM-dd");
        Assert.Equal((1, 2, nextPeriod), ((int)changed["plan_version"]!, (int)changed["next_plan_version"]!, (string)changed["next_plan_from"]!));
        Assert.Equal("1", (await a.OkAsync(HttpMethod.Get, "/v1/customers/gx/upcoming-invoice"))["plan_version"]!.ToJsonString());

        async Task Field(BillingApi api, HttpMethod method, string path, object body, string field)
        {
            var (status, json) = await api.SendAsync(method, path, body);
            Assert.True(status == HttpStatusCode.BadRequest, $"{path}: expected 400, got {(int)status} {json?.ToJsonString()}");
            Assert.True(json!["errors"]![field] is not null, $"{path}: expected an error on '{field}': {json.ToJsonString()}");
        }

        await Field(a, HttpMethod.Post, "/v1/customers", new { external_id = "x", time_zone = "Mars/Olympus_Mons" }, "time_zone");
        await Field(a, HttpMethod.Post, "/v1/customers", new { name = "no id" }, "external_id");
        await Field(a, HttpMethod.Post, "/v1/plans", new { key = "bad", charges = new[] { new { key = "c", meter = "tokens", price_model = "per_unit", unit_price_usd = 1 } } }, "charges[0].meter");
        await Field(a, HttpMethod.Post, "/v1/plans", new
        {
            key = "bad", charges = new[] { new { key = "c", meter = "events", price_model = "volume", tiers = new object[] { new { up_to = 10, unit_price_usd = 1 }, new { up_to = 5, unit_price_usd = 1 }, new { up_to = (int?)null, unit_price_usd = 1 } } } },
        }, "charges[0].tiers[1].up_to");
        await Field(a, HttpMethod.Post, "/v1/plans", new { key = "bad", base_fee_usd = -1 }, "base_fee_usd");
        await Field(a, HttpMethod.Post, "/v1/subscriptions", new { customer = "globex", plan = "pro", start_date = "2026-06-01" }, "start_date");
        await Field(a, HttpMethod.Post, "/v1/subscriptions", new { customer = "globex", plan = "pro", start_date = "2026-13-01" }, "start_date");
        await Field(a, HttpMethod.Post, "/v1/credit-grants", new { customer = "globex", amount_usd = "0.001" }, "amount_usd");
        await Field(a, HttpMethod.Post, "/v1/credit-grants", new { customer = "globex", amount_usd = "1000000000000000" }, "amount_usd");
        await Field(a, HttpMethod.Get, "/v1/statements/daily?from=2026-11-02&to=2026-11-01", new { }, "to");
        Assert.Equal(HttpStatusCode.Conflict, (await a.SendAsync(HttpMethod.Post, "/v1/customers", new { external_id = "other", aliases = new[] { "globex" } })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await a.SendAsync(HttpMethod.Post, "/v1/subscriptions", new { customer = "globex", plan = "nope" })).Status);

        // Tenant B sees none of A's customers, plans, subscriptions or invoices, by id or by listing.
        await a.OkAsync(HttpMethod.Post, "/v1/billing/run");
        var invoiceOfA = (string)(await a.OkAsync(HttpMethod.Get, "/v1/invoices"))["invoices"]![0]!["id"]!;

        // What would rewrite invoiced periods is refused: a second plan change while one is pending, an end before what is
        // invoiced, a time zone moved under subscriptions.
        Assert.Equal(HttpStatusCode.Conflict, (await a.SendAsync(HttpMethod.Patch, $"/v1/subscriptions/{subscription["id"]}", new { plan = "pro", plan_version = 1 })).Status);
        await Field(a, HttpMethod.Patch, $"/v1/subscriptions/{subscription["id"]}", new { end_date = "2026-03-15" }, "end_date");
        Assert.Equal(HttpStatusCode.Conflict, (await a.SendAsync(HttpMethod.Patch, "/v1/customers/globex", new { time_zone = "Europe/Paris" })).Status);
        Assert.Equal("Globex", (string)(await a.OkAsync(HttpMethod.Patch, "/v1/customers/globex", new { name = "Globex" }))["name"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await b.SendAsync(HttpMethod.Get, "/v1/customers/globex")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await b.SendAsync(HttpMethod.Get, "/v1/plans/pro")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await b.SendAsync(HttpMethod.Get, $"/v1/invoices/{invoiceOfA}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await b.SendAsync(HttpMethod.Post, $"/v1/invoices/{invoiceOfA}/void")).Status);
        Assert.Empty((await b.OkAsync(HttpMethod.Get, "/v1/customers"))["customers"]!.AsArray());
        Assert.Empty((await b.OkAsync(HttpMethod.Get, "/v1/invoices"))["invoices"]!.AsArray());
        Assert.Empty((await b.OkAsync(HttpMethod.Get, "/v1/subscriptions"))["subscriptions"]!.AsArray());
        await b.OkAsync(HttpMethod.Post, "/v1/customers", new { external_id = "globex" }); // the same id is B's own

        // A key without the billing scope is refused, naming the scope.
        var (status, body) = await readOnly.SendAsync(HttpMethod.Get, "/v1/customers");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("billing", body!.ToJsonString());
    }
}
