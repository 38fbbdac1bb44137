namespace Tokage.ControlPlane.Data;

public enum TenantStatus
{
    Active,
    Suspended,
}

/// <summary>A customer of Tokage. The registry itself is not tenant-owned: the admin API lists it.</summary>
public sealed class Tenant
{
    public Guid Id { get; set; }
    public required string Name { get; set; }
    public string Plan { get; set; } = "standard";
    public TenantStatus Status { get; set; } = TenantStatus.Active;

    /// <summary>Test-mode tenants get <c>tok_test_</c> keys.</summary>
    public bool TestMode { get; set; }
    public int RateLimitPerSecond { get; set; } = 1_000;
    public int RateLimitBurst { get; set; } = 2_000;

    /// <summary>The IANA zone the tenant reads times in (the console shows times and days in it).</summary>
    public string TimeZone { get; set; } = "UTC";
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// A tenant's OpenID Connect sign-in: members sign in at the tenant's own identity provider, and the control plane
/// redeems the code and checks the ID token against <see cref="Authority"/> before it starts a session. Under RLS.
/// </summary>
public sealed class TenantSso
{
    public Guid TenantId { get; set; }

    /// <summary>The issuer's URL; its <c>/.well-known/openid-configuration</c> names the endpoints and keys.</summary>
    public required string Authority { get; set; }
    public required string ClientId { get; set; }

    /// <summary>Protected with the control plane's Data Protection keys; null for a public client (PKCE alone).</summary>
    public string? ClientSecret { get; set; }

    /// <summary>
    /// The role a person whose verified e-mail is in <see cref="JoinDomains"/> joins with on a first sign-in; null:
    /// only invited members sign in.
    /// </summary>
    public string? JoinRole { get; set; }
    public string[] JoinDomains { get; set; } = [];
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>An API key: only the SHA-256 of its secret is kept, and a prefix people can recognise it by.</summary>
public sealed class ApiKey
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    public string Name { get; set; } = "";
    public required string Prefix { get; set; }
    public required byte[] SecretHash { get; set; }
    public string[] Scopes { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }

    /// <summary>When the key stops working: its own expiry, or the end of a rotation's grace period.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>The key that replaced this one in a rotation.</summary>
    public Guid? RotatedToId { get; set; }

    /// <summary>The console member who made the key, or whose sign-in session it is; null for keys the operator made.</summary>
    public Guid? MemberId { get; set; }

    /// <summary>Set on a member's sign-in session only: the role it acts with. Sessions are not listed as keys.</summary>
    public string? SessionRole { get; set; }

    /// <summary>A key scoped to one project, application or team: the kind, and the name in <see cref="ScopeValue"/>.</summary>
    public string? ScopeKind { get; set; }
    public string? ScopeValue { get; set; }
}

/// <summary>
/// A person who signs in to the console (ASP.NET Core Identity's user, hashed with its default hasher). The e-mail is
/// unique across Tokage: signing in names no tenant. Not under RLS — sign-in finds a member before its tenant is known —
/// so every tenant-facing read filters by <see cref="TenantId"/> (the control plane's members API does).
/// </summary>
public sealed class Member : Microsoft.AspNetCore.Identity.IdentityUser<Guid>
{
    public Guid TenantId { get; set; }

    /// <summary>owner, admin, member or viewer (<c>Tokage.ApiKeys.MemberRoles</c>).</summary>
    public required string Role { get; set; }
    public string? DisplayName { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the invitation was accepted (a password set); a member without it cannot sign in yet.</summary>
    public DateTimeOffset? JoinedAt { get; set; }
}

/// <summary>A person or service account of a tenant; <see cref="ExternalId"/> is the <c>user_id</c> events carry.</summary>
public sealed class User
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    public required string ExternalId { get; set; }
    public string? Email { get; set; }
    public string? DisplayName { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A team; its name is the <c>team</c> events carry.</summary>
public sealed class Team
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    public required string Name { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public List<TeamMember> Members { get; set; } = [];
}

public sealed class TeamMember
{
    public Guid TenantId { get; set; }
    public Guid TeamId { get; set; }
    public Guid UserId { get; set; }
}

/// <summary>A project; its name is the <c>project</c> events carry, its applications their <c>application</c>.</summary>
public sealed class Project
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    public required string Name { get; set; }
    public string? Description { get; set; }
    public string[] Applications { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>What a budget's spend is summed over: the whole tenant, or one value of an event dimension.</summary>
public enum BudgetScopeKind
{
    Tenant,
    Project,
    Application,
    Team,
    User,
}

public enum BudgetPeriod
{
    Daily,
    Monthly,
}

/// <summary>A spend limit per calendar day or month in <see cref="TimeZone"/>, alerting at each threshold percent.</summary>
public sealed class Budget
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    public required string Name { get; set; }
    public BudgetScopeKind ScopeKind { get; set; }

    /// <summary>The dimension's value events carry; empty for the tenant scope.</summary>
    public string ScopeValue { get; set; } = "";
    public BudgetPeriod Period { get; set; }

    /// <summary>IANA zone the calendar periods start in.</summary>
    public string TimeZone { get; set; } = "UTC";
    public decimal AmountUsd { get; set; }
    public int[] Thresholds { get; set; } = [50, 80, 100];
    public List<BudgetChannel> Channels { get; set; } = [];
    public bool HardLimit { get; set; }

    /// <summary>Signs webhook deliveries; shown once, on create.</summary>
    public required string SigningSecret { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>Where alerts go: <c>webhook</c> gets the alert JSON, <c>slack</c> a Slack incoming-webhook <c>{"text": …}</c>.</summary>
public sealed class BudgetChannel
{
    public string Kind { get; set; } = "webhook";
    public string Url { get; set; } = "";
}

/// <summary>
/// One alert per (budget, period start, threshold): the unique key, inserted before any delivery, decides
/// which evaluator sends it.
/// </summary>
public sealed class BudgetAlert
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    public Guid BudgetId { get; set; }
    public DateTimeOffset PeriodStart { get; set; }
    public int Threshold { get; set; }
    public decimal SpendUsd { get; set; }
    public decimal AmountUsd { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>One alert to one channel; retried until it succeeds or runs out of attempts. <see cref="LeasedUntil"/> keeps two evaluators off the same one.</summary>
public sealed class AlertDelivery
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    public Guid AlertId { get; set; }
    public int ChannelIndex { get; set; }
    public required string Kind { get; set; }
    public required string Url { get; set; }

    /// <summary>The exact body every attempt sends (and signs).</summary>
    public required string Body { get; set; }

    /// <summary>pending, delivered or failed (attempts exhausted).</summary>
    public string Status { get; set; } = "pending";
    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    public DateTimeOffset? LeasedUntil { get; set; }
    public DateTimeOffset? DeliveredAt { get; set; }
}

/// <summary>Every delivery attempt, as it went.</summary>
public sealed class AlertDeliveryAttempt
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    public Guid DeliveryId { get; set; }
    public int Attempt { get; set; }
    public int? StatusCode { get; set; }
    public string? Error { get; set; }
    public DateTimeOffset At { get; set; }
}

/// <summary>
/// A row of the audit outbox (migration AuditLog), written in the same SaveChanges as the change it records; the
/// database fills its order, transaction id and time. Other services write the same table with <c>AuditOutbox</c>.
/// </summary>
public sealed class AuditOutboxEntry
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid? TenantId { get; set; }
    public required string Kind { get; set; }
    public required string Subject { get; set; }
    public required string ActorType { get; set; }
    public required string ActorId { get; set; }
    public string? ActorAddress { get; set; }
    public string? ActorUserAgent { get; set; }
    public string? Before { get; set; }
    public string? After { get; set; }
}
