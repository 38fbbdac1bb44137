namespace Tokage.Audit;

/// <summary>
/// Who made a change and from where: a console member (their session), an API key, the operator (a service's admin
/// token) or a service acting on its own (an invoice run). Never a secret: a key is named by its id.
/// </summary>
public sealed record AuditActor(string Type, string Id, string? Address = null, string? UserAgent = null)
{
    public const string Member = "member";
    public const string Key = "key";
    public const string Operator = "operator";
    public const string Service = "service";
    public const string Anonymous = "anonymous";

    /// <summary>A service's own change (no request behind it), e.g. <c>billing-pipeline</c> issuing an invoice.</summary>
    public static AuditActor OfService(string name) => new(Service, name);
}
