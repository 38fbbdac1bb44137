using Microsoft.Extensions.Options;
using Tokage.Analytics.Privacy;

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
public sealed class EventClassifier(IOptions<DataPolicyOptions> options)
{
    public const string SyntheticKey = "tokage.synthetic";

    public ClassifiedFields Classify(string tenantId, string userId, IDictionary<string, string> metadata, decimal costUsd)
    {
        var settings = options.Value;
        var policy = settings.For(tenantId);
        var personal = false;
        string Keep(string value)
        {
            if (!PersonalValues.LooksPersonal(value))
            {
                return value;
            }

            personal = true;
            return policy.AllowRawPii ? value : PersonalValues.Pseudonym(settings.PiiHashKey, tenantId, value);
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

    /// <summary>A copy of the record with its user id and metadata values as the store would keep them.</summary>
    public Tokage.Contracts.V1.LoggedUsageEvent Masked(Tokage.Contracts.V1.LoggedUsageEvent logged)
    {
        var copy = logged.Clone();
        if (copy.Event is { } e)
        {
            var fields = Classify(copy.TenantId, e.UserId, e.Metadata, 0m);
            e.UserId = fields.UserId;
            e.Metadata.Clear();
            e.Metadata.Add(fields.Metadata);
        }

        return copy;
    }
}
