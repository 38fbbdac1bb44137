using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.ControlPlane.Data;
using Tokage.ControlPlane.Keys;

namespace Tokage.ControlPlane.Apis;

/// <summary>
/// A tenant's API keys: create (the secret is shown once), list, revoke, rotate with a grace period. Admins manage every
/// key; a member (role <c>member</c>) makes ingest/read keys and revokes or rotates their own. Sessions are not listed.
/// </summary>
public static class KeysApi
{
    private static readonly TimeSpan MaxGrace = TimeSpan.FromDays(30);

    public static RouteGroupBuilder MapKeysApi(this RouteGroupBuilder admin)
    {
        var keys = admin.MapGroup("/tenants/{tenant}/keys").WithTags("Keys");
        keys.MapPost("/", CreateAsync).RequireRole(MemberRoles.Member);
        keys.MapGet("/", ListAsync);
        keys.MapPost("/{keyId:guid}/revoke", RevokeAsync).RequireRole(MemberRoles.Member);
        keys.MapPost("/{keyId:guid}/rotate", RotateAsync).RequireRole(MemberRoles.Member);
        return admin;
    }

    private static async Task<IResult> CreateAsync(string tenant, CreateKeyRequest request, HttpContext http, ControlPlaneDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        var scopes = request.Scopes ?? KeyIssuer.DefaultScopes;
        if (scopes.Length == 0 || scopes.Any(s => !ApiKeyScopes.All.Contains(s)))
        {
            return ApiErrors.Invalid("scopes", $"'scopes' must be one or more of {string.Join(", ", ApiKeyScopes.All)}.");
        }

        if (request.Scope is { } scope)
        {
            if (!KeyScope.Kinds.Contains(scope.Kind))
            {
                return ApiErrors.Invalid("scope.kind", $"'scope.kind' must be one of {string.Join(", ", KeyScope.Kinds)}.");
            }

            if (string.IsNullOrWhiteSpace(scope.Value) || scope.Value.Length > 200)
            {
                return ApiErrors.Invalid("scope.value", $"'scope.value' names the {scope.Kind}: 1 to 200 characters.");
            }

            if (scopes.Except(KeyScope.AllowedScopes).FirstOrDefault() is { } wider)
            {
                return ApiErrors.Invalid("scopes", $"A scoped key ingests and reads only: '{wider}' cannot be given with a scope.");
            }
        }

        var caller = ControlPlaneCaller.Of(http);
        if (caller.IsMemberBelow(MemberRoles.Admin) && scopes.Except(KeyIssuer.DefaultScopes).FirstOrDefault() is { } beyond)
        {
            return ApiKeyHttp.MissingRole(caller.Role!, MemberRoles.LeastWith(beyond));
        }

        var now = time.GetUtcNow();
        if (request.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            return ApiErrors.Invalid("expires_at", "'expires_at' must be in the future.");
        }

        if (request.Name is { Length: > 100 })
        {
            return ApiErrors.Invalid("name", "'name' is at most 100 characters.");
        }

        if (await db.FindTenantAsync(tenant, cancellationToken) is not { } found)
        {
            return ApiErrors.NotFound($"Tenant '{tenant}'");
        }

        var (key, secret) = KeyIssuer.Issue(found, request.Name ?? "", [.. scopes.Distinct()], request.ExpiresAt, now);
        key.MemberId = caller.MemberId;
        (key.ScopeKind, key.ScopeValue) = (request.Scope?.Kind, request.Scope?.Value);
        await using var transaction = await db.BeginTenantScopeAsync(found.Id, cancellationToken);
        db.ApiKeys.Add(key);
        db.Audit(http, found.Id, AuditKinds.KeyCreated, $"key:{key.Id}", null, KeyDto.From(key, now));
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return Results.Created($"/v1/tenants/{found.Id}/keys/{key.Id}", Created(key, secret));
    }

    private static async Task<IResult> ListAsync(string tenant, ControlPlaneDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await db.FindTenantAsync(tenant, cancellationToken) is not { } found)
        {
            return ApiErrors.NotFound($"Tenant '{tenant}'");
        }

        await using var transaction = await db.BeginTenantScopeAsync(found.Id, cancellationToken);
        var keys = await db.ApiKeys.Where(k => k.SessionRole == null).OrderBy(k => k.CreatedAt).ToListAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        var now = time.GetUtcNow();
        return Results.Ok(new { keys = keys.Select(k => KeyDto.From(k, now)) });
    }

    private static async Task<IResult> RevokeAsync(string tenant, Guid keyId, HttpContext http, ControlPlaneDbContext db, KeyInvalidations invalidations, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await db.FindTenantAsync(tenant, cancellationToken) is not { } found)
        {
            return ApiErrors.NotFound($"Tenant '{tenant}'");
        }

        await using var transaction = await db.BeginTenantScopeAsync(found.Id, cancellationToken);
        if (await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == keyId, cancellationToken) is not { } key)
        {
            return ApiErrors.NotFound($"Key '{keyId}' of tenant '{tenant}'");
        }

        if (NotOwnKey(http, key) is { } refusal)
        {
            return refusal;
        }

        if (key.RevokedAt is null)
        {
            var now = time.GetUtcNow();
            var before = KeyDto.From(key, now);
            key.RevokedAt = now;
            db.Audit(http, found.Id, AuditKinds.KeyRevoked, $"key:{key.Id}", before, KeyDto.From(key, now));
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await invalidations.InvalidateAsync([key.SecretHash]);
        return Results.Ok(KeyDto.From(key, time.GetUtcNow()));
    }

    /// <summary>
    /// A new key with the same name and scopes; the old one keeps working until the grace period ends
    /// (<c>grace_seconds</c>, default <see cref="ControlPlaneOptions.RotationGrace"/>: 24 h), so clients can move over.
    /// </summary>
    private static async Task<IResult> RotateAsync(
        string tenant, Guid keyId, RotateKeyRequest? request, HttpContext http, ControlPlaneDbContext db, KeyInvalidations invalidations,
        IOptions<ControlPlaneOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var grace = request?.GraceSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : options.Value.RotationGrace;
        if (grace < TimeSpan.Zero || grace > MaxGrace)
        {
            return ApiErrors.Invalid("grace_seconds", $"'grace_seconds' must be between 0 and {(int)MaxGrace.TotalSeconds}.");
        }

        if (await db.FindTenantAsync(tenant, cancellationToken) is not { } found)
        {
            return ApiErrors.NotFound($"Tenant '{tenant}'");
        }

        var now = time.GetUtcNow();
        await using var transaction = await db.BeginTenantScopeAsync(found.Id, cancellationToken);
        if (await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == keyId, cancellationToken) is not { } old)
        {
            return ApiErrors.NotFound($"Key '{keyId}' of tenant '{tenant}'");
        }

        if (NotOwnKey(http, old) is { } refusal)
        {
            return refusal;
        }

        if (old.RevokedAt is not null || old.ExpiresAt <= now || old.RotatedToId is not null)
        {
            return ApiErrors.Conflict("Only an active key can be rotated (this one is revoked, expired or already rotated).");
        }

        var (replacement, secret) = KeyIssuer.Issue(found, old.Name, old.Scopes, null, now);
        replacement.MemberId = old.MemberId;
        (replacement.ScopeKind, replacement.ScopeValue) = (old.ScopeKind, old.ScopeValue);
        var graceEnd = now + grace;
        var before = KeyDto.From(old, now);
        old.ExpiresAt = old.ExpiresAt is { } own && own < graceEnd ? own : graceEnd;
        old.RotatedToId = replacement.Id;
        db.ApiKeys.Add(replacement);
        db.Audit(http, found.Id, AuditKinds.KeyRotated, $"key:{old.Id}", before, KeyDto.From(old, now));
        db.Audit(http, found.Id, AuditKinds.KeyCreated, $"key:{replacement.Id}", null, KeyDto.From(replacement, now));
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        // Caches learn the old key's new end.
        await invalidations.InvalidateAsync([old.SecretHash]);
        return Results.Created($"/v1/tenants/{found.Id}/keys/{replacement.Id}", new RotatedKeyDto(Created(replacement, secret), KeyDto.From(old, now)));
    }

    /// <summary>A member below admin changes only the keys they made themselves.</summary>
    private static IResult? NotOwnKey(HttpContext http, ApiKey key)
    {
        var caller = ControlPlaneCaller.Of(http);
        return caller.IsMemberBelow(MemberRoles.Admin) && key.MemberId != caller.MemberId ? ApiKeyHttp.MissingRole(caller.Role!, MemberRoles.Admin) : null;
    }

    private static KeyCreatedDto Created(ApiKey key, string secret) =>
        new(key.Id.ToString(), key.TenantId.ToString(), key.Name, key.Prefix, key.Scopes, key.CreatedAt, key.ExpiresAt, secret,
            key.ScopeKind is null ? null : new KeyScopeDto(key.ScopeKind, key.ScopeValue));
}
