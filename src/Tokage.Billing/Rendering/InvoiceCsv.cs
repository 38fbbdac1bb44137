using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CsvHelper;

namespace Tokage.Billing.Rendering;

/// <summary>An invoice's lines as CSV, one row per line, the JSON's fields as columns; the same document gives the same bytes.</summary>
public static class InvoiceCsv
{
    private static readonly string[] Columns =
        ["kind", "description", "charge", "meter", "period_start", "period_end", "quantity", "included_units", "unit_price_usd", "amount_usd", "amount_unrounded_usd"];

    public static byte[] Render(JsonObject invoice)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        using (var csv = CsvWriter.Create(text, new CsvWriterOptions(), leaveOpen: true))
        {
            foreach (var column in Columns)
            {
                csv.WriteField(column);
            }

            csv.EndRecord();
            foreach (var line in invoice["lines"]!.AsArray())
            {
                foreach (var column in Columns)
                {
                    csv.WriteField(line![column]?.GetValue<string>() ?? "");
                }

                csv.EndRecord();
            }
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
