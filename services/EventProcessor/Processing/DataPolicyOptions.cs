namespace Tokage.EventProcessor.Processing;

/// <summary>
/// How events are classified and what is masked, bound from <c>Tokage:DataPolicy</c>: a default policy and one
/// per tenant id (<c>Tokage:DataPolicy:Tenants:{tenantId}:…</c>), which replaces the default for that tenant.
/// </summary>
public sealed class DataPolicyOptions
{
    public const string SectionName = "Tokage:DataPolicy";

    /// <summary>
    /// The key of the HMAC that pseudonymises personal values (the same value gives the same token within a tenant,
    /// so breakdowns by user still work). Set it in production: without it the tokens are plain salted hashes.
    /// </summary>
    public string PiiHashKey { get; set; } = "";

    public TenantDataPolicy Default { get; set; } = new();

    public Dictionary<string, TenantDataPolicy> Tenants { get; set; } = [];

    public TenantDataPolicy For(string tenantId) => Tenants.TryGetValue(tenantId, out var policy) ? policy : Default;
}

public sealed class TenantDataPolicy
{
    /// <summary>Store e-mail addresses and phone numbers as sent instead of pseudonymised.</summary>
    public bool AllowRawPii { get; set; }

    /// <summary>Metadata keys whose events are confidential (CONF).</summary>
    public List<string> ConfidentialKeys { get; set; } = [];
}
