using System.Globalization;

namespace Tokage.Console.Api;

/// <summary>
/// How the reader sees times and money: times in the tenant's time zone (its setting; the browser's where it cannot be
/// read), in the reader's culture (the browser's); money as the API's exact decimal string — every digit kept, never
/// through a float — grouped and pointed the reader's way.
/// </summary>
public sealed record ReaderZone(TimeZoneInfo Zone, CultureInfo Culture)
{
    public static ReaderZone Utc { get; } = new(TimeZoneInfo.Utc, CultureInfo.GetCultureInfo("en-US"));

    public static ReaderZone From(string? zoneId, string? language)
    {
        var zone = zoneId is { Length: > 0 } && TimeZoneInfo.TryFindSystemTimeZoneById(zoneId, out var found) ? found : TimeZoneInfo.Utc;
        CultureInfo culture;
        try
        {
            culture = CultureInfo.GetCultureInfo(language ?? "en-US");
        }
        catch (CultureNotFoundException)
        {
            culture = Utc.Culture;
        }

        return new(zone, culture);
    }

    /// <summary>"$1,234.5678" (en-US) or "1.234,5678 $" (de-DE): all the decimal's digits, at least two.</summary>
    public string Money(string? usd)
    {
        if (usd is null)
        {
            return "unpriced";
        }

        var value = decimal.Parse(usd, NumberStyles.Number, CultureInfo.InvariantCulture);
        return Money(value);
    }

    public string Money(decimal value)
    {
        var format = (NumberFormatInfo)Culture.NumberFormat.Clone();
        format.CurrencySymbol = "$";
        format.CurrencyDecimalDigits = Math.Max(2, (int)value.Scale);
        return value.ToString("C", format);
    }

    public string Number(long value) => value.ToString("N0", Culture);

    /// <summary>The instant in the zone, in the reader's culture's short date and time.</summary>
    public string Time(DateTimeOffset instant) => TimeZoneInfo.ConvertTime(instant, Zone).ToString("g", Culture);

    /// <summary>"3 s ago", "5 min ago", "2 h ago", "4 d ago".</summary>
    public static string Ago(TimeSpan elapsed) => elapsed switch
    {
        { TotalSeconds: < 60 } => $"{Math.Max(0, (int)elapsed.TotalSeconds)} s ago",
        { TotalMinutes: < 60 } => $"{(int)elapsed.TotalMinutes} min ago",
        { TotalHours: < 48 } => $"{(int)elapsed.TotalHours} h ago",
        _ => $"{(int)elapsed.TotalDays} d ago",
    };

    /// <summary>The start of the month <paramref name="instant"/> falls in, in the reader's zone.</summary>
    public DateTimeOffset MonthStart(DateTimeOffset instant)
    {
        var local = TimeZoneInfo.ConvertTime(instant, Zone);
        var start = new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified);
        return new DateTimeOffset(start, Zone.GetUtcOffset(start));
    }
}
