using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.ControlPlane.Data;

namespace Tokage.ControlPlane.Apis;

/// <summary>The control plane's changes and their audit records: one SaveChanges, one transaction.</summary>
internal static class Audited
{
    /// <summary>Adds the record of a change made by <paramref name="http"/>'s caller to the pending SaveChanges.</summary>
    public static void Audit(this ControlPlaneDbContext db, HttpContext http, Guid? tenant, string kind, string subject, object? before, object? after) =>
        db.Audit(RequestActor.Of(http), tenant, kind, subject, before, after);

    /// <summary>Adds the record of a change made by <paramref name="by"/> to the pending SaveChanges.</summary>
    public static void Audit(this ControlPlaneDbContext db, AuditActor by, Guid? tenant, string kind, string subject, object? before, object? after)
    {
        var change = AuditChange.Of(tenant, kind, subject, before, after);
        db.AuditOutbox.Add(new AuditOutboxEntry
        {
            TenantId = tenant,
            Kind = kind,
            Subject = subject,
            ActorType = by.Type,
            ActorId = by.Id,
            ActorAddress = by.Address,
            ActorUserAgent = by.UserAgent,
            Before = change.Before?.GetRawText(),
            After = change.After?.GetRawText(),
        });
    }

    /// <summary>A budget as recorded: a channel's URL can hold a secret (Slack's hooks do), so only its scheme and host.</summary>
    public static BudgetDto ForAudit(this BudgetDto budget) => budget with
    {
        Channels = [.. budget.Channels.Select(c => c with { Url = Uri.TryCreate(c.Url, UriKind.Absolute, out var url) ? $"{url.Scheme}://{url.Host}/…" : null })],
    };
}
