using System.Globalization;

namespace Tokage.BillingPipeline.Billing;

/// <summary>Days as billing reads and writes them everywhere: <c>YYYY-MM-DD</c>.</summary>
public static class IsoDay
{
    public const string Pattern = "yyyy-MM-dd";

    /// <summary>The day <paramref name="text"/> names, or null when it names none.</summary>
    public static DateOnly? Parse(string? text) =>
        DateOnly.TryParseExact(text, Pattern, CultureInfo.InvariantCulture, DateTimeStyles.None, out var day) ? day : null;

    public static string Format(DateOnly day) => day.ToString(Pattern, CultureInfo.InvariantCulture);
}
