namespace Tokage.Analytics.Privacy;

/// <summary>
/// How events are classified and what is masked, bound from <c>Tokage:DataPolicy</c>: a default policy and one
/// per tenant id (<c>Tokage:DataPolicy:Tenants:{tenantId}:…</c>), which replaces the default for that tenant.
/// </summary>
public sealed class DataPolicyOptions
{
    public const string SectionName = "Tokage:DataPolicy";

    /// <summary>
    /// The key of the HMAC that pseudonymises personal values (the same value gives the same token within a tenant,
    /// so breakdowns by user still work). Required: every service that stores or looks up users by id needs the same
    /// key (the AppHost generates one; deployments set <c>Tokage__DataPolicy__PiiHashKey</c> from a secret).
    /// </summary>
    public string PiiHashKey { get; set; } = "";

    public const int MinimumKeyLength = 16;

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
