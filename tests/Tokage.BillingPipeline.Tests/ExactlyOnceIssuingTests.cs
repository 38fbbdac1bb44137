using System.Text.Json.Nodes;

namespace Tokage.BillingPipeline.Tests;

/// <summary>
/// Issuing across replicas and a crash: two billing-pipeline processes issue the same tenant's ended periods, small
/// batches, one killed mid-way and replaced. One invoice per period, numbered 1..N without a gap. A stack of its own.
/// </summary>
public sealed class ExactlyOnceIssuingTests(BudgetFixture fixture) : IClassFixture<BudgetFixture>
{
    [Fact]
    public async Task TwoProcessesOneKilledMidIssueGiveOneInvoicePerPeriodWithGaplessNumbers()
    {
        const int customers = 120;
        var setup = await fixture.StartBillingPipelineAsync(new() { ["Tokage__Billing__Interval"] = "01:00:00" });
        using var api = await BillingApi.ForNewTenantAsync(fixture, setup, "billing-exactly-once");
        await api.OkAsync(HttpMethod.Patch, "/v1/billing/settings", new { grace_hours = 0 });
        await api.OkAsync(HttpMethod.Post, "/v1/plans", new
        {
            key = "usage", base_fee_usd = "1",
            charges = new[] { new { key = "input", meter = "input_tokens", price_model = "per_unit", unit_price_usd = "1", per_units = 1_000_000 } },
        });

        // Three ended periods per customer (grace 0): 360 invoices to issue.
        var start = new DateOnly(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1).AddMonths(-3);
        for (var i = 0; i < customers; i++)
        {
            await api.OkAsync(HttpMethod.Post, "/v1/customers", new { external_id = $"c{i:000}" });
            await api.OkAsync(HttpMethod.Post, "/v1/subscriptions", new { customer = $"c{i:000}", plan = "usage", start_date = start.ToString("yyyy-MM-dd"), anchor_day = 1 });
        }

        await fixture.Writer.WriteEventsAsync([.. Enumerable.Range(0, customers).SelectMany(i => Enumerable.Range(0, 3).Select(m =>
            BillingApi.Event(api.TenantId, start.AddMonths(m).ToDateTime(new TimeOnly(9, 0), DateTimeKind.Utc), $"c{i:000}", (ulong)(1_000_000 * (i + 1)), 0m)))]);
        // The set-up process stays up as the API the test reads through; it issues nothing (its next pass is an hour away).

        // Batches of 5 and a pass every 200 ms: the first process is killed while it issues.
        var fast = new Dictionary<string, string> { ["Tokage__Billing__Interval"] = "00:00:00.200", ["Tokage__Billing__IssueBatchSize"] = "5" };
        var first = await fixture.StartBillingPipelineAsync(fast);
        var second = await fixture.StartBillingPipelineAsync(fast);
        await ControlPlaneStack.EventuallyAsync(async () => await IssuedAsync(api) >= 20, TimeSpan.FromSeconds(60), "issuing began");
        await first.KillAsync();
        var replacement = await fixture.StartBillingPipelineAsync(fast);
        await ControlPlaneStack.EventuallyAsync(async () => await IssuedAsync(api) == customers * 3, TimeSpan.FromSeconds(120), "every period issued");
        await Task.Delay(TimeSpan.FromSeconds(2));

        var invoices = (await api.OkAsync(HttpMethod.Get, "/v1/invoices?status=issued"))["invoices"]!.AsArray().Select(i => i!.AsObject()).ToList();
        Assert.Equal(customers * 3, invoices.Count);
        Assert.Equal(customers * 3, invoices.Select(i => ((string)i["customer"]!, (string)i["period_start"]!)).Distinct().Count());
        Assert.Equal(Enumerable.Range(1, customers * 3).Select(n => (long)n), invoices.Select(i => (long)i["number"]!).Order());
        Assert.Equal(customers * 3, (long)(await api.OkAsync(HttpMethod.Get, "/v1/billing/settings"))["last_invoice_number"]!);

        // Each figure is its customer's: base 1 + (i + 1) × 1M tokens at $1/M.
        Assert.All(invoices, i => Assert.Equal((1 + int.Parse(((string)i["customer"]!)[1..]) + 1).ToString("0.00"), (string)i["total_usd"]!));
        Assert.False(second.HasExited);
        Assert.False(replacement.HasExited);
    }

    private static async Task<int> IssuedAsync(BillingApi api) =>
        (await api.OkAsync(HttpMethod.Get, "/v1/invoices?status=issued"))["invoices"]!.AsArray().Count;
}
