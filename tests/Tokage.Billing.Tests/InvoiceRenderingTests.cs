using System.Text;
using Tokage.Billing.Invoices;
using Tokage.Billing.Plans;
using Tokage.Billing.Rendering;
using PdfReader = UglyToad.PdfPig.PdfDocument;

namespace Tokage.Billing.Tests;

public sealed class InvoiceRenderingTests
{
    private static System.Text.Json.Nodes.JsonObject Invoice(int charges = 2)
    {
        var plan = new PlanDefinition
        {
            BaseFeeUsd = 19m,
            Charges = [.. Enumerable.Range(0, charges).Select(i => new Charge { Key = $"input tokens {i}", Meter = Meter.InputTokens, PriceModel = PriceModel.PerUnit, UnitPriceUsd = 1.25m, PerUnits = 1_000_000m })],
        };
        var period = new BillingSchedule(new DateOnly(2026, 11, 1), 1, TimeZoneInfo.Utc).Periods().First();
        var figures = InvoiceCalculator.Compute(plan, [new UsageSlice("openai", "gpt-4o", "app", 3, 12_345_678, 0, 0, 0, 0, 1m)], [],
            [new CreditBalance(Guid.NewGuid(), 5m, 0, period.Start, null)], period);
        var document = InvoiceJson.Document(new InvoiceHeader("Acme AI", "cust-42", "Globex Corporation", "pro", 3, period, "UTC"), figures);
        document["number"] = 42;
        document["status"] = "issued";
        return document;
    }

    [Fact]
    public void ThePdfShowsTheJsonsTotalsRead()
    {
        var invoice = Invoice();
        var pdf = InvoicePdf.Render(invoice);

        using var read = PdfReader.Open(pdf);
        var words = string.Join(" ", read.GetPages().SelectMany(p => p.GetWords()).Select(w => w.Text));
        Assert.Contains("Invoice 42", words);
        Assert.Contains("Acme AI", words);
        Assert.Contains("Globex Corporation", words);
        Assert.Contains("2026-11-01 to 2026-12-01", words);
        // 19 + 2 × 12,345,678 × 1.25 / 1M (15.4320975 → 15.43 each) = 49.86; less 5 of credit: 44.86.
        Assert.Equal("49.86", invoice["subtotal_usd"]!.GetValue<string>());
        Assert.Contains($"Subtotal {invoice["subtotal_usd"]} USD", words);
        Assert.Contains($"Credits {invoice["credits_usd"]} USD", words);
        Assert.Contains($"Total due {invoice["total_usd"]} USD", words);
        Assert.Contains("44.86", words);
    }

    [Fact]
    public void ALongInvoiceContinuesOnMorePages()
    {
        var pdf = InvoicePdf.Render(Invoice(charges: 80));
        using var read = PdfReader.Open(pdf);
        Assert.True(read.NumberOfPages >= 2);
        var words = string.Join(" ", read.GetPages().SelectMany(p => p.GetWords()).Select(w => w.Text));
        Assert.Contains("tokens 79", words);
        Assert.Contains("Total due", words);
    }

    [Fact]
    public void TheCsvHasALineARowAndTheSameBytesEachTime()
    {
        var invoice = Invoice();
        var csv = Encoding.UTF8.GetString(InvoiceCsv.Render(invoice)).TrimEnd().Split('\n');
        Assert.Equal("kind,description,charge,meter,period_start,period_end,quantity,included_units,unit_price_usd,amount_usd,amount_unrounded_usd", csv[0].TrimEnd('\r'));
        Assert.Equal(1 + invoice["lines"]!.AsArray().Count, csv.Length);
        Assert.StartsWith("usage,\"input tokens 0 (input_tokens, per_unit)\",input tokens 0,input_tokens,,,12345678,0,1.25,", csv[2]);
        Assert.EndsWith(",15.43,15.4320975", csv[2].TrimEnd('\r'));
        Assert.Equal(InvoiceCsv.Render(invoice), InvoiceCsv.Render(Invoice()));
    }
}
