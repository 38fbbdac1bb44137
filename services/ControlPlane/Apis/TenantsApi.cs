using Microsoft.EntityFrameworkCore;
using Tokage.Audit;
using Tokage.ControlPlane.Data;
using Tokage.ControlPlane.Keys;

namespace Tokage.ControlPlane.Apis;

public static class TenantsApi
{
    public static RouteGroupBuilder MapTenantsApi(this RouteGroupBuilder admin)
    {
        var tenants = admin.MapGroup("/tenants").WithTags("Tenants");
        tenants.MapPost("/", CreateAsync);
        tenants.MapGet("/", ListAsync);
        tenants.MapGet("/{tenant}", GetAsync);
        tenants.MapPatch("/{tenant}", UpdateAsync).OperatorOnly();
        tenants.MapPatch("/{tenant}/settings", UpdateSettingsAsync).RequireRole(Tokage.ApiKeys.MemberRoles.Admin);
        tenants.MapPost("/{tenant}/suspend", (string tenant, HttpContext http, ControlPlaneDbContext db, KeyInvalidations invalidations, CancellationToken ct) =>
            SetStatusAsync(tenant, TenantStatus.Suspended, http, db, invalidations, ct)).OperatorOnly();
        tenants.MapPost("/{tenant}/activate", (string tenant, HttpContext http, ControlPlaneDbContext db, KeyInvalidations invalidations, CancellationToken ct) =>
            SetStatusAsync(tenant, TenantStatus.Active, http, db, invalidations, ct)).OperatorOnly();
        return admin;
    }

    private static async Task<IResult> CreateAsync(CreateTenantRequest request, HttpContext http, ControlPlaneDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        if (ApiErrors.CheckName(request.Name, "name") is { } nameError)
        {
            return ApiErrors.Invalid("name", nameError);
        }

        if (ApiErrors.CheckRateLimit(request.RateLimit) is { } limitError)
        {
            return ApiErrors.Invalid("rate_limit", limitError);
        }

        if (request.Plan is { Length: > 50 })
        {
            return ApiErrors.Invalid("plan", "'plan' is at most 50 characters.");
        }

        var now = time.GetUtcNow();
        var tenant = new Tenant
        {
            Id = Guid.CreateVersion7(),
            Name = request.Name!,
            Plan = request.Plan ?? "standard",
            TestMode = request.TestMode ?? false,
            RateLimitPerSecond = request.RateLimit?.EventsPerSecond ?? 1_000,
            RateLimitBurst = request.RateLimit?.Burst ?? 2_000,
            CreatedAt = now,
        };

        await using var transaction = await db.BeginTenantScopeAsync(tenant.Id, cancellationToken);
        db.Tenants.Add(tenant);
        (ApiKey Key, string Secret)? first = request.CreateKey ?? true ? KeyIssuer.Issue(tenant, "default", KeyIssuer.DefaultScopes, null, now) : null;
        db.Audit(http, tenant.Id, AuditKinds.TenantCreated, $"tenant:{tenant.Id}", null, TenantDto.From(tenant));
        if (first is { } issued)
        {
            db.ApiKeys.Add(issued.Key);
            db.Audit(http, tenant.Id, AuditKinds.KeyCreated, $"key:{issued.Key.Id}", null, KeyDto.From(issued.Key, now));
        }

        try
        {
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ApiErrors.IsUniqueViolation(ex))
        {
            return ApiErrors.Conflict($"A tenant named '{tenant.Name}' exists already.");
        }

        var dto = TenantDto.From(tenant);
        return Results.Created($"/v1/tenants/{tenant.Id}", new TenantCreatedDto(
            dto.TenantId, dto.Name, dto.Plan, dto.Status, dto.TestMode, dto.RateLimit, dto.CreatedAt,
            first?.Secret, first?.Key.Id.ToString(), first?.Key.Prefix));
    }

    private static async Task<IResult> ListAsync(ControlPlaneDbContext db, CancellationToken cancellationToken) =>
        Results.Ok(new { tenants = (await db.Tenants.OrderBy(t => t.Name).ToListAsync(cancellationToken)).Select(TenantDto.From) });

    private static async Task<IResult> GetAsync(string tenant, ControlPlaneDbContext db, CancellationToken cancellationToken) =>
        await db.FindTenantAsync(tenant, cancellationToken) is { } found ? Results.Ok(TenantDto.From(found)) : ApiErrors.NotFound($"Tenant '{tenant}'");

    /// <summary><c>PATCH /v1/tenants/{tenant}/settings</c> <c>{"time_zone"}</c>: what a tenant's admins set for themselves.</summary>
    private static async Task<IResult> UpdateSettingsAsync(string tenant, TenantSettingsRequest? request, HttpContext http, ControlPlaneDbContext db, CancellationToken cancellationToken)
    {
        var zone = request?.TimeZone ?? "";
        if (ApiErrors.CheckTimeZone(zone, "time_zone") is { } zoneError)
        {
            return ApiErrors.Invalid("time_zone", zoneError);
        }

        if (await db.FindTenantAsync(tenant, cancellationToken) is not { } found)
        {
            return ApiErrors.NotFound($"Tenant '{tenant}'");
        }

        // Stored as the zone's canonical IANA id, so every host reads it alike.
        var before = TenantDto.From(found);
        found.TimeZone = TimeZoneInfo.FindSystemTimeZoneById(zone).Id;
        db.Audit(http, found.Id, AuditKinds.TenantSettingsChanged, $"tenant:{found.Id}", before, TenantDto.From(found));
        await db.SaveChangesAsync(cancellationToken);
        return Results.Ok(TenantDto.From(found));
    }

    private static async Task<IResult> UpdateAsync(
        string tenant, UpdateTenantRequest request, HttpContext http, ControlPlaneDbContext db, KeyInvalidations invalidations, CancellationToken cancellationToken)
    {
        if (ApiErrors.CheckRateLimit(request.RateLimit) is { } limitError)
        {
            return ApiErrors.Invalid("rate_limit", limitError);
        }

        if (await db.FindTenantAsync(tenant, cancellationToken) is not { } found)
        {
            return ApiErrors.NotFound($"Tenant '{tenant}'");
        }

        var before = TenantDto.From(found);
        found.Plan = request.Plan ?? found.Plan;
        found.RateLimitPerSecond = request.RateLimit?.EventsPerSecond ?? found.RateLimitPerSecond;
        found.RateLimitBurst = request.RateLimit?.Burst ?? found.RateLimitBurst;
        db.Audit(http, found.Id, AuditKinds.TenantUpdated, $"tenant:{found.Id}", before, TenantDto.From(found));
        await db.SaveChangesAsync(cancellationToken);

        // Resolutions carry the rate limit.
        await InvalidateKeysAsync(db, found.Id, invalidations, cancellationToken);
        return Results.Ok(TenantDto.From(found));
    }

    private static async Task<IResult> SetStatusAsync(
        string tenant, TenantStatus status, HttpContext http, ControlPlaneDbContext db, KeyInvalidations invalidations, CancellationToken cancellationToken)
    {
        if (await db.FindTenantAsync(tenant, cancellationToken) is not { } found)
        {
            return ApiErrors.NotFound($"Tenant '{tenant}'");
        }

        var before = TenantDto.From(found);
        var changed = found.Status != status;
        found.Status = status;
        if (changed)
        {
            db.Audit(http, found.Id, status == TenantStatus.Suspended ? AuditKinds.TenantSuspended : AuditKinds.TenantActivated,
                $"tenant:{found.Id}", before, TenantDto.From(found));
        }

        await db.SaveChangesAsync(cancellationToken);
        await InvalidateKeysAsync(db, found.Id, invalidations, cancellationToken);
        return Results.Ok(TenantDto.From(found));
    }

    private static async Task InvalidateKeysAsync(ControlPlaneDbContext db, Guid tenantId, KeyInvalidations invalidations, CancellationToken cancellationToken)
    {
        List<byte[]> hashes;
        await using (var transaction = await db.BeginTenantScopeAsync(tenantId, cancellationToken))
        {
            hashes = await db.ApiKeys.Select(k => k.SecretHash).ToListAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await invalidations.InvalidateAsync(hashes);
    }
}
