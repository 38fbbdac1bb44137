using System.Text.Json.Nodes;
using PdfSharp.Drawing;
using PdfSharp.Fonts;
using PdfSharp.Pdf;

namespace Tokage.Billing.Rendering;

/// <summary>
/// An invoice as an A4 PDF (PDFsharp): the tenant, the customer, the period, one row per line, credits and totals,
/// all read from the invoice's JSON document, so the PDF shows exactly the JSON's figures.
/// </summary>
public static class InvoicePdf
{
    private const double Margin = 50;
    private const double RowHeight = 15;

    static InvoicePdf()
    {
        // PDFsharp takes one resolver per process; the first set wins, later sets are ignored.
        GlobalFontSettings.FontResolver ??= new DejaVuFontResolver();
    }

    public static byte[] Render(JsonObject invoice)
    {
        using var document = new PdfDocument();
        document.Info.Title = $"Invoice {Text(invoice, "number")}";
        document.Info.Creator = "Tokage";
        var regular = new XFont(DejaVuFontResolver.Family, 9);
        var bold = new XFont(DejaVuFontResolver.Family, 9, XFontStyleEx.Bold);
        var title = new XFont(DejaVuFontResolver.Family, 16, XFontStyleEx.Bold);

        var page = NewPage(document, out var graphics);
        var width = page.Width.Point - 2 * Margin;
        var y = Margin;
        var number = Text(invoice, "number");
        graphics.DrawString(number.Length > 0 ? $"Invoice {number}" : "Draft invoice", title, XBrushes.Black, Margin, y + 16);
        y += 34;
        foreach (var (label, value) in new[]
        {
            ("From", Text(invoice, "tenant")),
            ("Customer", JoinNonEmpty(Text(invoice, "customer_name"), Text(invoice, "customer"))),
            ("Period", $"{Text(invoice, "period_start")} to {Text(invoice, "period_end")} ({Text(invoice, "time_zone")})"),
            ("Plan", $"{Text(invoice, "plan")} v{Text(invoice, "plan_version")}"),
            ("Status", Text(invoice, "status")),
        })
        {
            graphics.DrawString(label, bold, XBrushes.Black, Margin, y);
            graphics.DrawString(value, regular, XBrushes.Black, Margin + 70, y);
            y += RowHeight;
        }

        y += 10;
        var columns = new (string Header, double Left, double Width, bool Right)[]
        {
            ("Description", 0, 250, false), ("Quantity", 250, 90, true), ("Unit price", 340, 70, true), ("Amount (USD)", 410, width - 410, true),
        };
        void Header()
        {
            foreach (var c in columns)
            {
                Cell(graphics, c.Header, bold, Margin + c.Left, y, c.Width, c.Right);
            }

            y += 4;
            graphics.DrawLine(new XPen(XColors.Black, 0.5), Margin, y, Margin + width, y);
            y += RowHeight;
        }

        Header();
        foreach (var line in invoice["lines"]!.AsArray())
        {
            if (y > page.Height.Point - Margin - 6 * RowHeight)
            {
                page = NewPage(document, out graphics);
                y = Margin;
                Header();
            }

            var description = Text(line!, "description");
            if (Text(line!, "kind") == "adjustment")
            {
                description = $"Adjustment for {Text(line!, "period_start")} to {Text(line!, "period_end")}";
            }

            Cell(graphics, Fit(graphics, description, regular, columns[0].Width - 6), regular, Margin, y, columns[0].Width, false);
            Cell(graphics, Text(line!, "quantity"), regular, Margin + columns[1].Left, y, columns[1].Width, true);
            Cell(graphics, Text(line!, "unit_price_usd"), regular, Margin + columns[2].Left, y, columns[2].Width, true);
            Cell(graphics, Text(line!, "amount_usd"), regular, Margin + columns[3].Left, y, columns[3].Width, true);
            y += RowHeight;
        }

        graphics.DrawLine(new XPen(XColors.Black, 0.5), Margin, y - 10, Margin + width, y - 10);
        y += 4;
        foreach (var (label, field, font) in new[] { ("Subtotal", "subtotal_usd", regular), ("Credits", "credits_usd", regular), ("Total due", "total_usd", bold) })
        {
            Cell(graphics, $"{label} {Text(invoice, field)} USD", font, Margin, y, width, true);
            y += RowHeight;
        }

        graphics.Dispose();
        using var stream = new MemoryStream();
        document.Save(stream, false);
        return stream.ToArray();
    }

    private static PdfPage NewPage(PdfDocument document, out XGraphics graphics)
    {
        var page = document.AddPage();
        page.Size = PdfSharp.PageSize.A4;
        graphics = XGraphics.FromPdfPage(page);
        return page;
    }

    private static void Cell(XGraphics graphics, string text, XFont font, double left, double y, double width, bool right) =>
        graphics.DrawString(text, font, XBrushes.Black, new XRect(left, y - 10, width, 12), right ? XStringFormats.TopRight : XStringFormats.TopLeft);

    private static string Fit(XGraphics graphics, string text, XFont font, double width)
    {
        if (graphics.MeasureString(text, font).Width <= width)
        {
            return text;
        }

        while (text.Length > 1 && graphics.MeasureString(text + "…", font).Width > width)
        {
            text = text[..^1];
        }

        return text + "…";
    }

    private static string JoinNonEmpty(params string[] parts) => string.Join(" · ", parts.Where(p => p.Length > 0));

    private static string Text(JsonNode node, string field) => node[field] switch
    {
        null => "",
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        var other => other.ToJsonString(),
    };
}

/// <summary>DejaVu Sans from the system's fonts (Debian's fonts-dejavu-core, installed by set-up) for every family PDFsharp asks for.</summary>
internal sealed class DejaVuFontResolver : IFontResolver
{
    public const string Family = "DejaVu Sans";
    private static readonly string Directory = Environment.GetEnvironmentVariable("TOKAGE_FONT_DIR") ?? "/usr/share/fonts/truetype/dejavu";

    public FontResolverInfo? ResolveTypeface(string familyName, bool bold, bool italic) =>
        new(bold ? "DejaVuSans-Bold" : "DejaVuSans", false, italic);

    public byte[]? GetFont(string faceName) => faceName switch
    {
        "DejaVuSans-Bold" or "DejaVuSans" => File.ReadAllBytes(Path.Combine(Directory, faceName + ".ttf")),
        _ => null,
    };
}
