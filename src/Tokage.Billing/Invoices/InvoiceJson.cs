using System.Globalization;
using System.Text.Json.Nodes;
using Tokage.Billing.Plans;

namespace Tokage.Billing.Invoices;

/// <summary>What an invoice is of: who, on which plan version, for which period.</summary>
public sealed record InvoiceHeader(
    string TenantName, string Customer, string CustomerName, string Plan, int PlanVersion, BillingPeriod Period, string TimeZone);

/// <summary>
/// An invoice's JSON, as the API answers and as it is stored: money as decimal strings (amounts with two decimals,
/// unit prices exact), quantities as decimal strings. The renderings (CSV, PDF) read this same document.
/// </summary>
public static class InvoiceJson
{
    public static JsonObject Document(InvoiceHeader header, InvoiceFigures figures) => new()
    {
        ["tenant"] = header.TenantName,
        ["customer"] = header.Customer,
        ["customer_name"] = header.CustomerName,
        ["plan"] = header.Plan,
        ["plan_version"] = header.PlanVersion,
        ["currency"] = "USD",
        ["time_zone"] = header.TimeZone,
        ["period_start"] = header.Period.StartDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        ["period_end"] = header.Period.EndDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        ["period_start_utc"] = header.Period.Start.ToString("O", CultureInfo.InvariantCulture),
        ["period_end_utc"] = header.Period.End.ToString("O", CultureInfo.InvariantCulture),
        ["lines"] = new JsonArray([.. figures.Lines.Select(Line)]),
        ["credits"] = new JsonArray([.. figures.Credits.Select(c => (JsonNode)new JsonObject
        {
            ["grant_id"] = c.GrantId.ToString(), ["amount_usd"] = Money.Cents(c.AmountUsd),
        })]),
        ["subtotal_usd"] = Money.Cents(figures.SubtotalUsd),
        ["credits_usd"] = Money.Cents(figures.CreditsUsd),
        ["total_usd"] = Money.Cents(figures.TotalUsd),
        ["total_unrounded_usd"] = Money.Exact(figures.TotalUnroundedUsd),
    };

    private static JsonNode Line(InvoiceLine line)
    {
        var node = new JsonObject
        {
            ["kind"] = line.Kind switch
            {
                LineKind.BaseFee => "base_fee", LineKind.Usage => "usage", LineKind.Minimum => "minimum", _ => "adjustment",
            },
            ["description"] = line.Description,
            ["charge"] = line.Charge,
            ["meter"] = line.Meter is { } meter ? PlanJson.Name(meter) : null,
            ["quantity"] = line.Quantity is { } quantity ? Money.Exact(quantity) : null,
            ["included_units"] = line.IncludedUnits is { } included ? Money.Exact(included) : null,
            ["tiers"] = new JsonArray([.. line.Tiers.Select(t => (JsonNode)new JsonObject
            {
                ["from"] = Money.Exact(t.From),
                ["up_to"] = t.UpTo is { } upTo ? Money.Exact(upTo) : null,
                ["units"] = Money.Exact(t.Units),
                ["unit_price_usd"] = Money.Exact(t.UnitPriceUsd),
                ["flat_fee_usd"] = Money.Exact(t.FlatFeeUsd),
                ["amount_usd"] = Money.Exact(t.AmountUsd),
            })]),
            ["unit_price_usd"] = line.UnitPriceUsd is { } unit ? Money.Exact(unit) : null,
            ["amount_usd"] = Money.Cents(line.AmountUsd),
            ["amount_unrounded_usd"] = Money.Exact(line.AmountUnroundedUsd),
        };
        if (line.PeriodStart is { } start && line.PeriodEnd is { } end)
        {
            node["period_start"] = start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            node["period_end"] = end.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        }

        return node;
    }
}
