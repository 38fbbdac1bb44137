using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CsvHelper;
using Tokage.BillingPipeline.Billing;

namespace Tokage.BillingPipeline.Reconciliation;

/// <summary>One priced line of a provider's bill: a UTC day, the model it names (or the line item when it names none), and its amount.</summary>
public sealed record CostReportLine(DateOnly Day, string Model, string LineItem, decimal AmountUsd);

/// <summary>A provider's cost report as read: its lines, and the problems that make it unusable (any problem: nothing is kept).</summary>
public sealed record CostReport(string Provider, string Format, List<CostReportLine> Lines, Dictionary<string, string[]> Errors)
{
    public DateOnly Start => Lines.Min(l => l.Day);

    public DateOnly End => Lines.Max(l => l.Day).AddDays(1);
}

/// <summary>
/// Reads the providers' own cost reports, amounts as decimals from their text (never through a float):
/// OpenAI's organization Costs API (<c>GET /v1/organization/costs</c>: daily buckets of results with <c>amount.value</c> in
/// the currency, <c>line_item</c> "model, kind", <c>project_id</c>), and Anthropic's cost report (<c>GET
/// /v1/organizations/cost_report</c>: daily buckets of results whose <c>amount</c> is a decimal string in cents) as JSON,
/// or as CSV with those fields as columns. Only whole UTC days in US dollars are reconciled.
/// </summary>
public static partial class ProviderCostReports
{
    public static readonly string[] Providers = ["openai", "anthropic"];

    private const int MaxLines = 200_000;

    public static CostReport Read(string provider, string format, byte[] content)
    {
        var report = new CostReport(provider, format, [], []);
        try
        {
            switch (provider, format)
            {
                case ("openai", "json"):
                    ReadOpenAi(content, report);
                    break;
                case ("anthropic", "json"):
                    ReadAnthropicJson(content, report);
                    break;
                case ("anthropic", "csv"):
                    ReadAnthropicCsv(content, report);
                    break;
                default:
                    report.Errors["format"] = [$"{provider} cost reports are read as {(provider == "openai" ? "JSON (the Costs API's answer)" : "JSON or CSV")}."];
                    break;
            }
        }
        catch (JsonException ex)
        {
            report.Errors["report"] = [$"The report is not valid JSON: {ex.Message}"];
        }
        catch (Exception ex) when (ex is CsvFormatException or FormatException or DecoderFallbackException)
        {
            report.Errors["report"] = [$"The report is not readable CSV: {ex.Message}"];
        }

        if (report.Errors.Count == 0 && report.Lines.Count == 0)
        {
            report.Errors["report"] = ["The report has no cost lines: nothing to reconcile."];
        }
        else if (report.Lines.Count > MaxLines)
        {
            report.Errors["report"] = [$"The report has more than {MaxLines} lines: upload it in parts (a month at a time)."];
        }

        return report;
    }

    private static void ReadOpenAi(byte[] content, CostReport report) => ReadBuckets(content, report,
        "An OpenAI cost report is the Costs API's answer: an object with a 'data' array of buckets.",
        "A bucket has 'start_time' and 'end_time' (Unix seconds) and a 'results' array.",
        bucket => bucket.TryGetProperty("start_time", out var start) && start.TryGetInt64(out var startUnix)
            && bucket.TryGetProperty("end_time", out var end) && end.TryGetInt64(out var endUnix)
                ? (DateTimeOffset.FromUnixTimeSeconds(startUnix), DateTimeOffset.FromUnixTimeSeconds(endUnix)) : null,
        (day, result, where) =>
        {
            if (!result.TryGetProperty("amount", out var amount) || amount.ValueKind != JsonValueKind.Object
                || !amount.TryGetProperty("value", out var value) || value.ValueKind != JsonValueKind.Number)
            {
                report.Errors[where] = ["A result has 'amount': {\"value\": <number>, \"currency\": \"usd\"}."];
                return false;
            }

            var currency = amount.TryGetProperty("currency", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "usd";
            if (!currency.Equals("usd", StringComparison.OrdinalIgnoreCase))
            {
                report.Errors[where] = [$"The amount is in '{currency}': only US dollars are reconciled (Tokage prices in USD)."];
                return false;
            }

            // The number's own text, read as a decimal.
            if (!value.TryGetDecimal(out var usd))
            {
                report.Errors[where] = ["'amount.value' is not a decimal number."];
                return false;
            }

            var item = result.TryGetProperty("line_item", out var li) && li.ValueKind == JsonValueKind.String ? li.GetString()! : "";
            // "gpt-4o-2024-08-06, input": the model is what comes before the comma.
            var model = item.Split(',', 2)[0].Trim();
            report.Lines.Add(new CostReportLine(day, model.Length > 0 ? model : "(no line item)", item, usd));
            return true;
        });

    private static void ReadAnthropicJson(byte[] content, CostReport report) => ReadBuckets(content, report,
        "An Anthropic cost report is the cost report API's answer: an object with a 'data' array of buckets.",
        "A bucket has 'starting_at' and 'ending_at' (RFC 3339) and a 'results' array.",
        bucket => Instant(bucket, "starting_at") is { } start && Instant(bucket, "ending_at") is { } end ? (start, end) : null,
        (day, result, where) =>
        {
            string? Text(string name) => result.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            return AnthropicLine(day, Text("amount"), Text("currency"), Text("model"), Text("description"), Text("cost_type"), Text("token_type"), where, report);
        });

    /// <summary>
    /// A report of daily buckets (<c>{"data": [{…its window…, "results": [...]}]}</c>, as both providers' APIs answer): each
    /// bucket one UTC day, each result read by <paramref name="readResult"/>; the first problem stops the reading.
    /// </summary>
    private static void ReadBuckets(
        byte[] content, CostReport report, string reportShape, string bucketShape, Func<JsonElement, (DateTimeOffset Start, DateTimeOffset End)?> window,
        Func<DateOnly, JsonElement, string, bool> readResult)
    {
        using var document = JsonDocument.Parse(content);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            report.Errors["report"] = [reportShape];
            return;
        }

        var seen = new HashSet<DateOnly>();
        var index = 0;
        foreach (var bucket in data.EnumerateArray())
        {
            var at = $"data[{index++}]";
            if (bucket.ValueKind != JsonValueKind.Object || window(bucket) is not { } span
                || !bucket.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array)
            {
                report.Errors[at] = [bucketShape];
                return;
            }

            if (Day(span.Start, span.End, at, seen, report) is not { } day)
            {
                return;
            }

            var line = 0;
            foreach (var result in results.EnumerateArray())
            {
                var where = $"{at}.results[{line++}]";
                if (result.ValueKind != JsonValueKind.Object)
                {
                    report.Errors[where] = ["A result is an object."];
                    return;
                }

                if (!readResult(day, result, where))
                {
                    return;
                }
            }
        }
    }

    private static void ReadAnthropicCsv(byte[] content, CostReport report)
    {
        using var csv = CsvReader.Create(content, new CsvReaderOptions { TrimWhitespace = true });
        var header = csv.Headers.Select(h => h.Trim().ToLowerInvariant()).ToArray();
        int Column(params string[] names) => names.Select(n => Array.IndexOf(header, n)).FirstOrDefault(i => i >= 0, -1);
        var (dayColumn, amountColumn, dollarsColumn) = (Column("starting_at", "usage_date_utc", "date"), Column("amount"), Column("cost_usd"));
        var (currencyColumn, modelColumn, descriptionColumn, costTypeColumn, tokenTypeColumn) =
            (Column("currency"), Column("model"), Column("description"), Column("cost_type"), Column("token_type"));
        if (dayColumn < 0 || (amountColumn < 0 && dollarsColumn < 0))
        {
            report.Errors["report"] = ["The CSV needs a header with a day column (starting_at, usage_date_utc or date) and an amount column ('amount' in cents as the API gives it, or 'cost_usd')."];
            return;
        }

        var row = 1;
        while (csv.Read())
        {
            row++;
            var where = $"row {row}";
            string? Field(int column) => column >= 0 && column < csv.FieldCount && csv.GetString(column) is { Length: > 0 } v ? v : null;
            var dayText = Field(dayColumn);
            if (CsvDay(dayText) is not { } day)
            {
                report.Errors[where] = [$"'{dayText}' is not a UTC day (YYYY-MM-DD, or an RFC 3339 midnight)."];
                return;
            }

            var amount = Field(amountColumn);
            if (amount is null && Field(dollarsColumn) is { } dollars)
            {
                // Dollars given: the same line in cents.
                if (!decimal.TryParse(dollars, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var usd))
                {
                    report.Errors[where] = [$"'cost_usd' is not a decimal number: '{dollars}'."];
                    return;
                }

                amount = (usd * 100m).ToString(CultureInfo.InvariantCulture);
            }

            if (!AnthropicLine(day, amount, Field(currencyColumn), Field(modelColumn), Field(descriptionColumn), Field(costTypeColumn), Field(tokenTypeColumn), where, report))
            {
                return;
            }
        }
    }

    private static DateOnly? CsvDay(string? text) =>
        text is null ? null
        : IsoDay.Parse(text) is { } day ? day
        : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant) && instant.UtcDateTime.TimeOfDay == TimeSpan.Zero
            ? DateOnly.FromDateTime(instant.UtcDateTime) : null;

    /// <summary>One Anthropic result: its amount is a decimal string in cents ("123.45" USD is $1.2345).</summary>
    private static bool AnthropicLine(
        DateOnly day, string? amount, string? currency, string? model, string? description, string? costType, string? tokenType, string where, CostReport report)
    {
        if (currency is not null && !currency.Equals("USD", StringComparison.OrdinalIgnoreCase))
        {
            report.Errors[where] = [$"The amount is in '{currency}': only US dollars are reconciled (Tokage prices in USD)."];
            return false;
        }

        if (amount is null || !decimal.TryParse(amount, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var cents))
        {
            report.Errors[where] = [$"'amount' is a decimal string in cents (\"123.45\" is $1.2345), not '{amount}'."];
            return false;
        }

        var item = string.Join(", ", new[] { description, costType, tokenType }.Where(p => !string.IsNullOrEmpty(p)));
        report.Lines.Add(new CostReportLine(day, model ?? (item.Length > 0 ? item : "(no model)"), item, cents / 100m));
        return true;
    }

    /// <summary>A bucket's day: whole UTC days only, each once in a report.</summary>
    private static DateOnly? Day(DateTimeOffset start, DateTimeOffset end, string at, HashSet<DateOnly> seen, CostReport report)
    {
        if (start.UtcDateTime.TimeOfDay != TimeSpan.Zero || end - start != TimeSpan.FromDays(1))
        {
            report.Errors[at] = [$"The bucket {start:O} to {end:O} is not one UTC day: ask the provider for daily buckets (bucket_width=1d)."];
            return null;
        }

        var day = DateOnly.FromDateTime(start.UtcDateTime);
        if (!seen.Add(day))
        {
            report.Errors[at] = [$"The report has {day:yyyy-MM-dd} twice: buckets overlap."];
            return null;
        }

        return day;
    }

    private static DateTimeOffset? Instant(JsonElement bucket, string name) =>
        bucket.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
        && DateTimeOffset.TryParse(v.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant) ? instant : null;

    /// <summary>
    /// The key a provider's model and Tokage's are matched by: lower case, without a snapshot date
    /// ("gpt-4o-2024-08-06" and "claude-sonnet-4-20250514" match "gpt-4o" and "claude-sonnet-4").
    /// </summary>
    public static string ModelKey(string model) => SnapshotDate().Replace(model.Trim().ToLowerInvariant(), "");

    [GeneratedRegex(@"-(\d{4}-\d{2}-\d{2}|\d{8})$")]
    private static partial Regex SnapshotDate();
}
