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
    string? MemberId = null,
    string? ScopeKind = null,
    string? ScopeValue = null)
{
    /// <summary>
    /// A key scoped to one project, application or team (<see cref="KeyScope"/>): it ingests usage of that scope only and
    /// reads only that scope's usage; every read that cannot be narrowed to it refuses the key.
    /// </summary>
    public bool IsScoped => ScopeKind is not null;

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

/// <summary>What a key can be scoped to: the event fields of the same names.</summary>
public static class KeyScope
{
    public static readonly string[] Kinds = ["project", "application", "team"];

    /// <summary>Scoped keys ingest and read; nothing else.</summary>
    public static readonly string[] AllowedScopes = [ApiKeyScopes.Ingest, ApiKeyScopes.Read];

    /// <summary>The 403 for a scoped key on a path that cannot be narrowed to its scope.</summary>
    public static Microsoft.AspNetCore.Http.IResult Refusal(ApiKeyIdentity identity) =>
        Microsoft.AspNetCore.Http.Results.Problem(statusCode: Microsoft.AspNetCore.Http.StatusCodes.Status403Forbidden, title: "Forbidden",
            detail: $"This key is scoped to {identity.ScopeKind} '{identity.ScopeValue}': it sends that scope's usage and reads it through " +
                "GET /v1/usage/breakdown, /v1/usage/timeseries and /v1/events only. Use an unscoped key here.");
}

public sealed record KeyResolution(KeyResolutionStatus Status, ApiKeyIdentity? Identity = null)
{
    public static KeyResolution Invalid { get; } = new(KeyResolutionStatus.Invalid);

    public static KeyResolution Suspended { get; } = new(KeyResolutionStatus.Suspended);

    public static KeyResolution Unavailable { get; } = new(KeyResolutionStatus.Unavailable);

    public static KeyResolution Valid(ApiKeyIdentity identity) => new(KeyResolutionStatus.Valid, identity);
}
