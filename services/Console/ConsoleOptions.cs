namespace Tokage.Console;

/// <summary>Bound from <c>Tokage:Console</c>: where the APIs are (service discovery names by default) and the demo.</summary>
public sealed class ConsoleOptions
{
    public const string SectionName = "Tokage:Console";

    public Uri ControlPlane { get; set; } = new("http://control-plane");
    public Uri QueryApi { get; set; } = new("http://query-api");
    public Uri PriceRegistry { get; set; } = new("http://price-registry");
    public Uri Billing { get; set; } = new("http://billing-pipeline");
    public Uri Ingestion { get; set; } = new("http://ingestion");
    public Uri Audit { get; set; } = new("http://audit-log");

    /// <summary>
    /// Whether a tenant's identity provider may be reached over plain HTTP (a local test issuer). Off by default; the
    /// AppHost turns it on for local runs only, as it does for the control plane.
    /// </summary>
    public bool AllowHttpIdentityProviders { get; set; }
}
