namespace Tokage.ApiKeys;

public enum KeyResolutionStatus
{
    Valid,

    /// <summary>Wrong, revoked or expired: callers answer 401 without saying which.</summary>
    Invalid,

    /// <summary>A good key of a suspended tenant: 403.</summary>
    Suspended,

    /// <summary>Nothing could answer: callers refuse the request (503 with Retry-After), never let it in.</summary>
    Unavailable,
}

/// <summary>Who a key belongs to and what it may do.</summary>
public sealed record ApiKeyIdentity(
    string TenantId,
    string TenantName,
    string KeyId,
    IReadOnlyList<string> Scopes,
    int EventsPerSecond,
    int Burst,
    bool TestMode,
    DateTimeOffset? ExpiresAt,
    string? Role = null,
    string? MemberId = null)
{
    /// <summary>A console member's session: it acts with the member's <see cref="Role"/> (its scopes follow from it).</summary>
    public bool IsSession => Role is not null;

    public bool HasScope(string scope) => Scopes.Contains(scope, StringComparer.Ordinal) || Scopes.Contains(ApiKeyScopes.Admin, StringComparer.Ordinal);
}

public static class ApiKeyScopes
{
    public const string Ingest = "ingest";
    public const string Read = "read";
    public const string Admin = "admin";

    /// <summary>The billing API: customers, plans, subscriptions, credits, invoices, statements.</summary>
    public const string Billing = "billing";

    public static readonly string[] All = [Ingest, Read, Admin, Billing];
}

public sealed record KeyResolution(KeyResolutionStatus Status, ApiKeyIdentity? Identity = null)
{
    public static KeyResolution Invalid { get; } = new(KeyResolutionStatus.Invalid);

    public static KeyResolution Suspended { get; } = new(KeyResolutionStatus.Suspended);

    public static KeyResolution Unavailable { get; } = new(KeyResolutionStatus.Unavailable);

    public static KeyResolution Valid(ApiKeyIdentity identity) => new(KeyResolutionStatus.Valid, identity);
}
