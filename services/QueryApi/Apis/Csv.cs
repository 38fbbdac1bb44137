using System.Globalization;
using CsvHelper;

namespace Tokage.QueryApi.Apis;

/// <summary>CSV answers, for <c>Accept: text/csv</c> or <c>?format=csv</c>: one row per group, the JSON fields as columns.</summary>
internal static class Csv
{
    public static bool Wanted(HttpRequest request) =>
        request.Query["format"].ToString().Equals("csv", StringComparison.OrdinalIgnoreCase)
        || request.Headers.Accept.ToString().Contains("text/csv", StringComparison.OrdinalIgnoreCase);

    public static IResult Result(IReadOnlyList<Dictionary<string, object?>> rows, IReadOnlyList<string> columns, string fileName)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        using (var csv = CsvWriter.Create(text, new CsvWriterOptions(), leaveOpen: true))
        {
            foreach (var column in columns)
            {
                csv.WriteField(column);
            }

            csv.EndRecord();
            foreach (var row in rows)
            {
                foreach (var column in columns)
                {
                    // Money stays the exact decimal string; an unpriced group's cost is an empty cell.
                    csv.WriteField(Convert.ToString(row.GetValueOrDefault(column), CultureInfo.InvariantCulture) ?? "");
                }

                csv.EndRecord();
            }
        }

        return Results.File(System.Text.Encoding.UTF8.GetBytes(text.ToString()), "text/csv; charset=utf-8", fileName);
    }
}
