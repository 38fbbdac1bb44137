using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Tokage.EventProcessor.Processing;

/// <summary>The data-handling class of a stored event (its cost is billed whatever the class).</summary>
public static class Classification
{
    /// <summary>Synthetic-monitor traffic.</summary>
    public const string Operations = "OPS";

    /// <summary>It carried an e-mail address or phone number (masked unless the tenant allows raw values).</summary>
    public const string Personal = "PII";

    /// <summary>It carried a metadata key the tenant marks confidential.</summary>
    public const string Confidential = "CONF";

    /// <summary>Usage with a cost.</summary>
    public const string Billing = "BILLING";

    /// <summary>Nothing of the above: unpriced or free usage without sensitive values.</summary>
    public const string Public = "PUB";
}

/// <summary>What the classifier decided, and the values to store (personal ones pseudonymised).</summary>
public sealed record ClassifiedFields(string Classification, string UserId, Dictionary<string, string> Metadata);

/// <summary>
/// One class per event, the first rule that holds: OPS (metadata <c>tokage.synthetic=true</c>, as the synthetic
/// monitor sends), PII (the user id or a metadata value looks like an e-mail address or a phone number), CONF (a
/// metadata key the tenant marks confidential), BILLING (a cost above zero), else PUB. Personal values are
/// replaced by <c>pii:</c> and an HMAC of the value unless the tenant's policy allows raw values.
/// </summary>
public sealed partial class EventClassifier(IOptions<DataPolicyOptions> options)
{
    public const string SyntheticKey = "tokage.synthetic";
    private const string PseudonymPrefix = "pii:";

    public ClassifiedFields Classify(string tenantId, string userId, IDictionary<string, string> metadata, decimal costUsd)
    {
        var settings = options.Value;
        var policy = settings.For(tenantId);
        var personal = false;
        string Keep(string value)
        {
            if (!LooksPersonal(value))
            {
                return value;
            }

            personal = true;
            return policy.AllowRawPii ? value : Pseudonym(settings.PiiHashKey, tenantId, value);
        }

        var storedUser = Keep(userId);
        var stored = new Dictionary<string, string>(metadata.Count, StringComparer.Ordinal);
        foreach (var (key, value) in metadata)
        {
            stored[key] = Keep(value);
        }

        var synthetic = metadata.TryGetValue(SyntheticKey, out var flag) && flag.Equals("true", StringComparison.OrdinalIgnoreCase);
        var confidential = policy.ConfidentialKeys.Count > 0 && metadata.Keys.Any(k => policy.ConfidentialKeys.Contains(k, StringComparer.Ordinal));
        var classification = synthetic ? Classification.Operations
            : personal ? Classification.Personal
            : confidential ? Classification.Confidential
            : costUsd > 0 ? Classification.Billing
            : Classification.Public;
        return new ClassifiedFields(classification, storedUser, stored);
    }

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
