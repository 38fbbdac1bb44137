using System.Globalization;

namespace Tokage.QueryApi.Apis;

/// <summary>Money in responses: a decimal string, exact, without the storage scale's trailing zeros.</summary>
internal static class Money
{
    // Dividing by one with 28 decimal places keeps the value and drops trailing zeros (decimal keeps the smallest scale).
    public static string Format(decimal usd) => (usd / 1.0000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);
}
