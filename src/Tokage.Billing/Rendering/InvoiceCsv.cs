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

    public static byte[] Render(JsonObject invoice) =>
        CsvTable.Render(Columns, invoice["lines"]!.AsArray().Select(line => Columns.Select(c => line![c]?.GetValue<string>() ?? "").ToList()));
}

/// <summary>Rows of text as UTF-8 CSV with a header (CsvHelper's quoting), the same rows giving the same bytes.</summary>
public static class CsvTable
{
    public static byte[] Render(IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        using (var csv = CsvWriter.Create(text, new CsvWriterOptions(), leaveOpen: true))
        {
            foreach (var row in rows.Prepend(columns))
            {
                foreach (var field in row)
                {
                    csv.WriteField(field);
                }

                csv.EndRecord();
            }
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
