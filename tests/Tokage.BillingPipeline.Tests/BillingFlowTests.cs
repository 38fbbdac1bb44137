using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using PdfReader = UglyToad.PdfPig.PdfDocument;

namespace Tokage.BillingPipeline.Tests;

/// <summary>
/// Billing through a billing-pipeline process on real PostgreSQL and the ClickHouse-local host: customers with aliases,
/// a plan, a subscription that began two months ago, usage written into the store, invoices issued and drafted,
/// credits, late usage, renderings, statements, isolation and bad requests.
/// </summary>
public sealed class BillingFlowTests(BudgetFixture fixture) : IClassFixture<BudgetFixture>
{
    internal static readonly object Plan = new
    {
        key = "pro", name = "Pro", base_fee_usd = "10",
        charges = new object[]
        {
            new { key = "input", meter = "input_tokens", price_model = "per_unit", unit_price_usd = "2", per_units = 1_000_000, included_units = 1_000_000 },
            new { key = "calls", meter = "events", price_model = "graduated", tiers = new object[] { new { up_to = 10, unit_price_usd = "0" }, new { up_to = (int?)null, unit_price_usd = "0.5" } } },
            new { key = "resale", meter = "cost_usd", price_model = "markup", markup_percent = "20" },
        },
    };

    [Fact]
    public async Task UsageBecomesIssuedInvoicesADraftAndAnAdjustmentForLateUsage()
    {
        // The usage is there before the pipeline first looks at the tenant: a day it closes is closed for good.
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("billing-flow"))["tenant_id"]!;
        var thisMonth = new DateOnly(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1);
        var (first, second) = (thisMonth.AddMonths(-2), thisMonth.AddMonths(-1));
        var at = (DateOnly day) => day.ToDateTime(new TimeOnly(12, 0), DateTimeKind.Utc);

        // First period: 10 events as acme, 5 as its alias; usage of nobody and of no one is not acme's.
        await fixture.Writer.WriteEventsAsync([
            .. Enumerable.Range(0, 10).Select(i => BillingApi.Event(tenant, at(first).AddMinutes(i), "acme", 300_000, 0.123m)),
            .. Enumerable.Range(0, 5).Select(i => BillingApi.Event(tenant, at(first.AddDays(3)).AddMinutes(i), "acme-eu", 300_000, 0.123m)),
            .. Enumerable.Range(0, 4).Select(i => BillingApi.Event(tenant, at(first.AddDays(3)), "nobody", 9_000_000, 5m)),
            BillingApi.Event(tenant, at(first.AddDays(4)), "", 9_000_000, 5m),
            // Second period.
            BillingApi.Event(tenant, at(second.AddDays(1)), "acme", 300_000, 0.123m),
            BillingApi.Event(tenant, at(second.AddDays(1)).AddMinutes(1), "acme", 300_000, 0.123m),
            BillingApi.Event(tenant, at(second.AddDays(1)).AddMinutes(2), "unassigned-later", 100, 0.5m),
        ]);

        var billing = await fixture.StartBillingPipelineAsync();
        using var api = await BillingApi.ForTenantAsync(fixture, billing, tenant);
        await api.OkAsync(HttpMethod.Patch, "/v1/billing/settings", new { grace_hours = 0 });

        // The customer is created after its usage: its past usage is billable.
        var customer = await api.OkAsync(HttpMethod.Post, "/v1/customers", new { external_id = "acme", aliases = new[] { "acme-eu" }, name = "Acme Corp", email = "billing@acme.test" });
        Assert.Equal("UTC", (string)customer["time_zone"]!);
        var plan = await api.OkAsync(HttpMethod.Post, "/v1/plans", Plan);
        Assert.Equal(1, (int)plan["version"]!);
        await api.OkAsync(HttpMethod.Post, "/v1/credit-grants", new { customer = "acme", amount_usd = "15.00", effective_at = at(first.AddDays(-30)).ToString("O") });
        var subscription = await api.OkAsync(HttpMethod.Post, "/v1/subscriptions", new { customer = "acme", plan = "pro", start_date = first.ToString("yyyy-MM-dd"), anchor_day = 1 });
        Assert.Equal(1, (int)subscription["plan_version"]!);

        var run = await api.OkAsync(HttpMethod.Post, "/v1/billing/run");
        var invoices = (await api.OkAsync(HttpMethod.Get, "/v1/invoices?customer=acme"))["invoices"]!.AsArray().Select(i => i!.AsObject()).OrderBy(i => (string)i["period_start"]!).ToList();
        Assert.Equal(3, invoices.Count);
        Assert.Equal(["issued", "issued", "draft"], invoices.Select(i => (string)i["status"]!));

        // First period by hand: base 10; input 15 × 300,000 = 4.5M, 1M included, 3.5M × $2/M = 7.00;
        // 15 events, 10 free, 5 × 0.5 = 2.50; cost 15 × 0.123 = 1.845 × 1.2 = 2.214 → 2.21. Subtotal 21.71; 15.00 of credit; 6.71 due.
        var october = invoices[0];
        Assert.Equal(["10.00", "7.00", "2.50", "2.21"], october["lines"]!.AsArray().Select(l => (string)l!["amount_usd"]!));
        Assert.Equal(("21.71", "15.00", "6.71", "6.714"), ((string)october["subtotal_usd"]!, (string)october["credits_usd"]!, (string)october["total_usd"]!, (string)october["total_unrounded_usd"]!));
        Assert.Equal("4500000", (string)october["lines"]![1]!["quantity"]!);

        // Second: base 10; 600,000 tokens all included; 2 events free; (0.246 × 1.2 = 0.2952) → 0.30. No credit left.
        var november = invoices[1];
        Assert.Equal(("10.30", "0.00", "10.30"), ((string)november["subtotal_usd"]!, (string)november["credits_usd"]!, (string)november["total_usd"]!));

        // Numbers are the tenant's, in order, without gaps; the running period is a draft without a number.
        Assert.Equal([1L, 2L], invoices.Take(2).Select(i => (long)i["number"]!));
        Assert.Null(invoices[2]["number"]);
        Assert.True((int)run["issued"]! >= 2 || (await api.OkAsync(HttpMethod.Get, "/v1/billing/settings"))["last_invoice_number"]!.GetValue<long>() == 2);

        // The PDF read back shows the JSON's figures; the CSV has a row per line.
        var pdf = await api.BytesAsync($"/v1/invoices/{october["id"]}.pdf");
        using (var read = PdfReader.Open(pdf))
        {
            var words = string.Join(" ", read.GetPages().SelectMany(p => p.GetWords()).Select(w => w.Text));
            Assert.Contains("Invoice 1", words);
            Assert.Contains("Acme Corp", words);
            Assert.Contains("Subtotal 21.71 USD", words);
            Assert.Contains("Total due 6.71 USD", words);
        }

        // The operator's CLI: the tenant by name, the admin token, the PDF written to a file.
        string[] cli = ["--url", fixture.Stack.ControlPlane.HttpUri.ToString(), "--billing-url", billing.HttpUri.ToString(), "--admin-token", ControlPlaneStack.AdminToken, "--tenant", "billing-flow"];
        var listed = await CliProcess.RunAsync(["invoices", "list", "--status", "issued", "--json", .. cli]);
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        Assert.Equal(["10.30", "6.71"], JsonNode.Parse(listed.Stdout)!["invoices"]!.AsArray().Select(i => (string)i!["total_usd"]!).Order());
        var file = Path.Combine(Path.GetTempPath(), $"invoice-{Guid.NewGuid():N}.pdf");
        var written = await CliProcess.RunAsync(["invoices", "pdf", (string)october["id"]!, "--output", file, .. cli]);
        Assert.True(written.ExitCode == 0, written.Stderr);
        Assert.StartsWith("%PDF-", System.Text.Encoding.ASCII.GetString(await File.ReadAllBytesAsync(file), 0, 5));
        File.Delete(file);

        var csv = System.Text.Encoding.UTF8.GetString(await api.BytesAsync($"/v1/invoices/{october["id"]}.csv")).TrimEnd().Split('\n');
        Assert.Equal(5, csv.Length);
        Assert.Equal(await api.BytesAsync($"/v1/invoices/{october["id"]}.csv"), await api.BytesAsync($"/v1/invoices/{october["id"]}.csv"));

        // Daily statements: the second period's first day is closed, per customer id as events named it.
        var statements = await api.OkAsync(HttpMethod.Get, $"/v1/statements/daily?from={second.AddDays(1):yyyy-MM-dd}&to={second.AddDays(2):yyyy-MM-dd}");
        Assert.Equal([$"{second.AddDays(1):yyyy-MM-dd}"], statements["closed_days"]!.AsArray().Select(d => (string)d!));
        Assert.Equal([("acme", "2", "0.246"), ("unassigned-later", "1", "0.5")],
            statements["rows"]!.AsArray().Select(r => ((string)r!["customer"]!, (string)r["events"]!, (string)r["cost_usd"]!)));
        var statementCsv = await api.BytesAsync($"/v1/statements/daily?from={second.AddDays(1):yyyy-MM-dd}&to={second.AddDays(2):yyyy-MM-dd}&format=csv");

        // Late usage in the second, issued period: never an edit of it, an adjustment line on the next draft instead.
        await fixture.Writer.WriteEventsAsync([BillingApi.Event(api.TenantId, at(second.AddDays(1)).AddMinutes(3), "acme-eu", 300_000, 0.5m)]);
        var upcoming = await api.OkAsync(HttpMethod.Get, "/v1/customers/acme/upcoming-invoice");
        var adjustment = upcoming["lines"]!.AsArray().Single(l => (string)l!["kind"]! == "adjustment")!;
        // (0.246 + 0.5) × 1.2 = 0.8952 → 0.90, billed 0.30: 0.60 more for that period.
        Assert.Equal(("0.60", second.ToString("yyyy-MM-dd")), ((string)adjustment["amount_usd"]!, (string)adjustment["period_start"]!));
        Assert.Equal("10.60", (string)upcoming["subtotal_usd"]!);
        await api.OkAsync(HttpMethod.Post, "/v1/billing/run");
        var again = await api.OkAsync(HttpMethod.Get, $"/v1/invoices/{november["id"]}");
        Assert.Equal(november.ToJsonString(), again.ToJsonString());
        var draft = await api.OkAsync(HttpMethod.Get, $"/v1/invoices/{invoices[2]["id"]}");
        Assert.Contains(draft["lines"]!.AsArray(), l => (string)l!["kind"]! == "adjustment" && (string)l["amount_usd"]! == "0.60");

        // A price correction reprices one of that period's events from 0.123 to 0.377 (an adjustment row, as the registry
        // writes it): again an adjustment line, never an edit. (0.246 + 0.5 + 0.254) × 1.2 = 1.20, billed 0.30: 0.90 more.
        var repriced = BillingApi.Event(api.TenantId, at(second.AddDays(1)), "acme", 300_000, 0.123m);
        await fixture.Writer.WriteAdjustmentsAsync([new Tokage.Analytics.UsageAdjustmentRow
        {
            TenantId = repriced.TenantId, EventId = repriced.EventId, RepricingId = 1, EventTime = repriced.EventTime, AdjustedAt = DateTime.UtcNow,
            Provider = repriced.Provider, Model = repriced.Model, Application = repriced.Application, Customer = repriced.Customer,
            PriceVersionId = "1", CostUsd = 0.377m, AdjustmentUsd = 0.254m,
        }]);
        await api.OkAsync(HttpMethod.Post, "/v1/billing/run");
        Assert.Equal(november.ToJsonString(), (await api.OkAsync(HttpMethod.Get, $"/v1/invoices/{november["id"]}")).ToJsonString());
        draft = await api.OkAsync(HttpMethod.Get, $"/v1/invoices/{invoices[2]["id"]}");
        Assert.Contains(draft["lines"]!.AsArray(), l => (string)l!["kind"]! == "adjustment" && (string)l["amount_usd"]! == "0.90");

        // A closed day's statement does not change: the same bytes.
        Assert.Equal(statementCsv, await api.BytesAsync($"/v1/statements/daily?from={second.AddDays(1):yyyy-MM-dd}&to={second.AddDays(2):yyyy-MM-dd}&format=csv"));

        // Paid and void move an issued invoice on; nothing moves a draft or a paid one; the database refuses edits.
        Assert.Equal("paid", (string)(await api.OkAsync(HttpMethod.Post, $"/v1/invoices/{october["id"]}/mark-paid"))["status"]!);
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(HttpMethod.Post, $"/v1/invoices/{october["id"]}/void")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(HttpMethod.Post, $"/v1/invoices/{invoices[2]["id"]}/void")).Status);
        var edit = await Assert.ThrowsAsync<PostgresException>(() => fixture.Database.InTenantAsyncForTests(Guid.Parse(api.TenantId),
            "UPDATE invoices SET total_usd = 0 WHERE id = @id", Guid.Parse((string)november["id"]!)));
        Assert.Contains("never changes", edit.MessageText);
        Assert.Equal("void", (string)(await api.OkAsync(HttpMethod.Post, $"/v1/invoices/{november["id"]}/void"))["status"]!);
    }
}
