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
    public DateTimeOffset CreatedAt { get; set; }
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
