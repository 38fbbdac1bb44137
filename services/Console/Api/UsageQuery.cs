using System.Globalization;
using System.Text.Json.Nodes;

namespace Tokage.Console.Api;

/// <summary>The query API's usage paths, and its rows read back with their money exact.</summary>
public static class UsageQuery
{
    public static readonly string[] Dimensions = ["model", "provider", "application", "project", "user", "team", "customer", "environment"];

    public static string Breakdown(DateTimeOffset from, DateTimeOffset to, IEnumerable<string> groupBy, IReadOnlyDictionary<string, string>? filters, string tz) =>
        "/v1/usage/breakdown" + Query(from, to, groupBy, filters, tz);

    public static string Timeseries(DateTimeOffset from, DateTimeOffset to, string interval, IEnumerable<string> groupBy, IReadOnlyDictionary<string, string>? filters, string tz) =>
        "/v1/usage/timeseries" + Query(from, to, groupBy, filters, tz) + $"&interval={interval}";

    public static string Query(DateTimeOffset from, DateTimeOffset to, IEnumerable<string> groupBy, IReadOnlyDictionary<string, string>? filters, string tz)
    {
        var parts = new List<string>
        {
            $"from={Uri.EscapeDataString(from.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture))}",
            $"to={Uri.EscapeDataString(to.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture))}",
            $"tz={Uri.EscapeDataString(tz)}",
        };
        if (groupBy.Any())
        {
            parts.Add($"group_by={string.Join(',', groupBy)}");
        }

        foreach (var (dimension, value) in filters ?? new Dictionary<string, string>())
        {
            parts.Add($"filter[{dimension}]={Uri.EscapeDataString(value)}");
        }

        return "?" + string.Join('&', parts);
    }

    /// <summary>What a row costs now: what its events were charged when stored plus what repricings added since.</summary>
    public static decimal Spend(JsonNode? row) => Decimal(row?["cost_usd"]) + Decimal(row?["adjustments_usd"]);

    public static decimal Decimal(JsonNode? value) =>
        value is null ? 0m : decimal.Parse((string)value!, NumberStyles.Number, CultureInfo.InvariantCulture);

    public static long Long(JsonNode? value) => value is null ? 0 : (long)value;

    /// <summary>
    /// The unit a chart of these amounts reads best in: US cents when all are under a dollar (the axis keeps round
    /// ticks), dollars otherwise. Charts only; tables show the exact amounts.
    /// </summary>
    public static (decimal Factor, string Unit) ChartUnit(IEnumerable<decimal> amounts) =>
        amounts.DefaultIfEmpty(0m).Max() < 1m ? (100m, "US cents") : (1m, "USD");

    /// <summary>Rows of a breakdown answer, most spend first.</summary>
    public static List<JsonObject> RowsBySpend(JsonObject answer) =>
        [.. (answer["rows"]?.AsArray() ?? []).OfType<JsonObject>().OrderByDescending(Spend)];
}
