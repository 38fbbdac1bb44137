using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Tokage.Analytics.Privacy;

/// <summary>
/// Personal values (e-mail addresses, phone numbers) and the form the usage store keeps them in: <c>pii:</c> and an HMAC
/// of the value, stable per tenant, unless the tenant's policy allows raw values. The processor stores user ids and
/// metadata values this way; everything that takes a user id from a person (breakdown filters, budget and entitlement
/// scopes) asks <see cref="StoredForm"/> for the form to compare, so a budget on <c>alice@example.com</c> sees her spend.
/// </summary>
public sealed partial class PersonalValues(IOptions<DataPolicyOptions> options)
{
    public const string PseudonymPrefix = "pii:";

    /// <summary>The value as the store keeps it for <paramref name="tenantId"/>.</summary>
    public string StoredForm(string tenantId, string value) =>
        LooksPersonal(value) && !options.Value.For(tenantId).AllowRawPii ? Pseudonym(options.Value.PiiHashKey, tenantId, value) : value;

    public static bool LooksPersonal(string value)
    {
        if (value.Length is < 6 or > 256 || value.StartsWith(PseudonymPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        // Cheap tests first: an address has an '@', a phone number at least seven digits.
        if (value.Contains('@'))
        {
            return Email().IsMatch(value);
        }

        return value.Count(char.IsAsciiDigit) >= 7 && (InternationalPhone().IsMatch(value) || NorthAmericanPhone().IsMatch(value));
    }

    /// <summary>Stable per tenant and key, so grouping by the pseudonymised user still works; not reversible.</summary>
    public static string Pseudonym(string key, string tenantId, string value)
    {
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(key + "\n" + tenantId), Encoding.UTF8.GetBytes(value));
        return PseudonymPrefix + Convert.ToHexStringLower(mac.AsSpan(0, 12));
    }

    [GeneratedRegex(@"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")]
    private static partial Regex Email();

    [GeneratedRegex(@"^\+\d[\d\s().-]{6,18}\d$")]
    private static partial Regex InternationalPhone();

    [GeneratedRegex(@"^\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}$")]
    private static partial Regex NorthAmericanPhone();
}
