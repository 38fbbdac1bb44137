namespace Tokage.ApiKeys;

/// <summary>
/// What a console member may do, from least to most: viewers read; members also ingest and manage their own keys;
/// admins manage keys, budgets and billing; owners also manage members. A member's session carries the scopes of its
/// role, so every API checks a session the way it checks a key; a refusal names the role that is missing.
/// </summary>
public static class MemberRoles
{
    public const string Viewer = "viewer";
    public const string Member = "member";
    public const string Admin = "admin";
    public const string Owner = "owner";

    /// <summary>Ordered from least to most.</summary>
    public static readonly string[] All = [Viewer, Member, Admin, Owner];

    public static bool IsRole(string? role) => role is not null && Array.IndexOf(All, role) >= 0;

    /// <summary>Whether <paramref name="role"/> is <paramref name="needed"/> or above it.</summary>
    public static bool Includes(string role, string needed) => Array.IndexOf(All, role) >= Array.IndexOf(All, needed);

    /// <summary>The scopes a session of <paramref name="role"/> carries.</summary>
    public static string[] ScopesOf(string role) => role switch
    {
        Viewer => [ApiKeyScopes.Read],
        Member => [ApiKeyScopes.Read, ApiKeyScopes.Ingest],
        Admin or Owner => [ApiKeyScopes.Read, ApiKeyScopes.Ingest, ApiKeyScopes.Billing, ApiKeyScopes.Admin],
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "not a member role"),
    };

    /// <summary>The least role whose sessions carry <paramref name="scope"/>.</summary>
    public static string LeastWith(string scope) => All.First(role => ScopesOf(role).Contains(scope, StringComparer.Ordinal));
}
