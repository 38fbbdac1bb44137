using System.Globalization;

namespace Tokage.Billing;

/// <summary>Money rules of invoices: exact decimals, each line rounded once to the cent, half away from zero.</summary>
public static class Money
{
    public static decimal ToCents(decimal usd) => Math.Round(usd, 2, MidpointRounding.AwayFromZero);

    /// <summary>A rounded amount as it is shown: always two decimals (<c>12.30</c>).</summary>
    public static string Cents(decimal usd) => ToCents(usd).ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>An exact amount (unit prices, unrounded sums): the value without trailing zeros.</summary>
    public static string Exact(decimal usd) => (usd / 1.0000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);
}
