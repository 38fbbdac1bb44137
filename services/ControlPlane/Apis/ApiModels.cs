using Tokage.ControlPlane.Data;

namespace Tokage.ControlPlane.Apis;

// JSON is snake_case (see AddApplicationServices): TenantId is "tenant_id".

public sealed record RateLimitDto(int EventsPerSecond, int Burst);

public sealed record CreateTenantRequest(string? Name, string? Plan, bool? TestMode, RateLimitDto? RateLimit, bool? CreateKey);

public sealed record UpdateTenantRequest(string? Plan, RateLimitDto? RateLimit);

public sealed record TenantDto(string TenantId, string Name, string Plan, string Status, bool TestMode, RateLimitDto RateLimit, DateTimeOffset CreatedAt, string TimeZone)
{
    public static TenantDto From(Tenant t) => new(
        t.Id.ToString(), t.Name, t.Plan, t.Status.ToString().ToLowerInvariant(), t.TestMode, new(t.RateLimitPerSecond, t.RateLimitBurst), t.CreatedAt, t.TimeZone);
}

/// <summary>What a tenant's admins set for themselves: the IANA zone the console shows times and days in.</summary>
public sealed record TenantSettingsRequest(string? TimeZone);

/// <summary>A new tenant with its first key (ingest and read scopes), whose secret is shown only here.</summary>
public sealed record TenantCreatedDto(
    string TenantId, string Name, string Plan, string Status, bool TestMode, RateLimitDto RateLimit, DateTimeOffset CreatedAt,
    string? ApiKey, string? ApiKeyId, string? ApiKeyPrefix);

public sealed record CreateKeyRequest(string? Name, string[]? Scopes, DateTimeOffset? ExpiresAt, KeyScopeDto? Scope = null);

/// <summary>What a key is scoped to: <c>{"kind": "project"|"application"|"team", "value": "<name>"}</c>.</summary>
public sealed record KeyScopeDto(string? Kind, string? Value);

public sealed record RotateKeyRequest(int? GraceSeconds);

public sealed record KeyDto(
    string Id, string TenantId, string Name, string Prefix, string[] Scopes, string Status,
    DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt, DateTimeOffset? ExpiresAt, string? RotatedTo, KeyScopeDto? Scope = null)
{
    public static KeyDto From(ApiKey k, DateTimeOffset now) => new(
        k.Id.ToString(), k.TenantId.ToString(), k.Name, k.Prefix, k.Scopes,
        k.RevokedAt is not null ? "revoked"
            : k.ExpiresAt is { } e && e <= now ? "expired"
            : k.RotatedToId is not null ? "rotating"
            : "active",
        k.CreatedAt, k.LastUsedAt, k.RevokedAt, k.ExpiresAt, k.RotatedToId?.ToString(),
        k.ScopeKind is null ? null : new KeyScopeDto(k.ScopeKind, k.ScopeValue));
}

/// <summary>A key as created: the only response that carries its secret.</summary>
public sealed record KeyCreatedDto(string Id, string TenantId, string Name, string Prefix, string[] Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, string ApiKey, KeyScopeDto? Scope = null);

public sealed record RotatedKeyDto(KeyCreatedDto Key, KeyDto Previous);

public sealed record CreateUserRequest(string? UserId, string? Email, string? DisplayName);

public sealed record UserDto(string Id, string UserId, string? Email, string? DisplayName, DateTimeOffset CreatedAt)
{
    public static UserDto From(User u) => new(u.Id.ToString(), u.ExternalId, u.Email, u.DisplayName, u.CreatedAt);
}

public sealed record CreateTeamRequest(string? Name);

public sealed record AddMemberRequest(string? UserId);

public sealed record TeamDto(string Id, string Name, string[] Members, DateTimeOffset CreatedAt);

public sealed record CreateProjectRequest(string? Name, string? Description, string[]? Applications);

public sealed record ProjectDto(string Id, string Name, string? Description, string[] Applications, DateTimeOffset CreatedAt)
{
    public static ProjectDto From(Project p) => new(p.Id.ToString(), p.Name, p.Description, p.Applications, p.CreatedAt);
}

public sealed record SignInRequest(string? Email, string? Password);

public sealed record AcceptInvitationRequest(Guid? MemberId, string? Token, string? Password, string? DisplayName);

public sealed record PasswordResetRequest(string? Email);

public sealed record ResetPasswordRequest(Guid? MemberId, string? Token, string? Password);

public sealed record InviteMemberRequest(string? Email, string? Role, string? DisplayName);

public sealed record UpdateMemberRequest(string? Role);

public sealed record MemberDto(string Id, string TenantId, string Email, string? DisplayName, string Role, string Status, DateTimeOffset CreatedAt, DateTimeOffset? JoinedAt)
{
    public static MemberDto From(Member m) => new(
        m.Id.ToString(), m.TenantId.ToString(), m.Email!, m.DisplayName, m.Role, m.JoinedAt is null ? "invited" : "active", m.CreatedAt, m.JoinedAt);
}

/// <summary>A member as invited: the link (shown to the inviter, and mailed) that lets the member choose a password.</summary>
public sealed record InvitedMemberDto(MemberDto Member, string InvitationUrl, DateTimeOffset ExpiresAt);

/// <summary>A console session: <see cref="Token"/> is sent like an API key (<c>Authorization: Bearer …</c>) until it expires.</summary>
public sealed record SessionDto(string Token, DateTimeOffset ExpiresAt, MemberDto Member, TenantDto Tenant);
