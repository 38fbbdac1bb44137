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
}
