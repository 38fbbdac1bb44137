namespace Tokage.ControlPlane;

/// <summary>Bound from <c>Tokage:ControlPlane</c>.</summary>
public sealed class ControlPlaneOptions
{
    public const string SectionName = "Tokage:ControlPlane";

    /// <summary>
    /// The bearer token of the admin API (REST and gRPC). The AppHost generates one for local runs and writes
    /// it to <c>.tokage/secrets/admin-token</c>, where the CLI finds it; deployments set it from a secret.
    /// </summary>
    public string AdminToken { get; set; } = "";

    /// <summary>How long a rotated key keeps working beside its replacement, unless the request says otherwise.</summary>
    public TimeSpan RotationGrace { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long a member's console session lasts before signing in again.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>How long an invitation link works.</summary>
    public TimeSpan InvitationLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The console's address, which invitation and password-reset links point at.</summary>
    public string ConsoleUrl { get; set; } = "http://localhost:8050";

    /// <summary>Where members' mail is dropped as files (see <c>MailDrop</c>); none: not delivered.</summary>
    public string? MailDropDirectory { get; set; }

    /// <summary>
    /// Whether a tenant's identity provider may be reached over plain HTTP (a local test issuer). Off by default: an
    /// authority must be HTTPS. The AppHost turns it on for local runs only.
    /// </summary>
    public bool AllowHttpIdentityProviders { get; set; }
}
