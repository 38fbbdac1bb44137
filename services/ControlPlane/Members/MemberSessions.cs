using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.ControlPlane.Apis;
using Tokage.ControlPlane.Data;
using Tokage.ControlPlane.Keys;

namespace Tokage.ControlPlane.Members;

/// <summary>
/// A member's sign-in session is an API key that carries the member's role (and that role's scopes) and ends after
/// <see cref="ControlPlaneOptions.SessionLifetime"/>: the console sends it like any key, so every service checks the member
/// the way it checks a key — no other way in. A role change, a removal or a new password ends the member's sessions.
/// </summary>
internal sealed class MemberSessions(ControlPlaneDbContext db, KeyInvalidations invalidations, IOptions<ControlPlaneOptions> options, TimeProvider time)
{
    public const string SessionName = "console session";

    /// <summary>A new session for <paramref name="member"/>: its secret (shown once) and when it ends.</summary>
    public async Task<(string Secret, DateTimeOffset ExpiresAt)> StartAsync(Member member, Tenant tenant, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var expiresAt = now + options.Value.SessionLifetime;
        var (key, secret) = KeyIssuer.Issue(tenant, SessionName, MemberRoles.ScopesOf(member.Role), expiresAt, now);
        key.MemberId = member.Id;
        key.SessionRole = member.Role;
        await using var transaction = await db.BeginTenantScopeAsync(tenant.Id, cancellationToken);
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (secret, expiresAt);
    }

    /// <summary>
    /// Ends every live session of the member (and, with <paramref name="keysToo"/>, revokes the keys the member made, each
    /// recorded as by <paramref name="actor"/>), saving what else the context holds in the same transaction.
    /// </summary>
    public async Task EndAllAsync(Guid tenantId, Guid memberId, bool keysToo, AuditActor actor, CancellationToken cancellationToken)
    {
        await using var transaction = await db.BeginTenantScopeAsync(tenantId, cancellationToken);
        var now = time.GetUtcNow();
        var live = await db.ApiKeys
            .Where(k => k.MemberId == memberId && k.RevokedAt == null && (keysToo || k.SessionRole != null))
            .ToListAsync(cancellationToken);
        foreach (var key in live)
        {
            var before = key.SessionRole is null ? KeyDto.From(key, now) : null;
            key.RevokedAt = now;
            if (before is not null)
            {
                db.Audit(actor, tenantId, AuditKinds.KeyRevoked, $"key:{key.Id}", before, KeyDto.From(key, now));
            }
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await invalidations.InvalidateAsync([.. live.Select(k => k.SecretHash)]);
    }

    /// <summary>Ends the session whose secret is <paramref name="secret"/> (sign-out).</summary>
    public async Task<bool> EndAsync(Guid tenantId, string secret, CancellationToken cancellationToken)
    {
        var hash = ApiKeyFormat.Hash(secret);
        await using var transaction = await db.BeginTenantScopeAsync(tenantId, cancellationToken);
        var session = await db.ApiKeys.FirstOrDefaultAsync(k => k.SecretHash == hash && k.SessionRole != null, cancellationToken);
        if (session is null)
        {
            return false;
        }

        session.RevokedAt ??= time.GetUtcNow();
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await invalidations.InvalidateAsync([hash]);
        return true;
    }
}
