using Microsoft.EntityFrameworkCore;
using Tokage.ApiKeys;
using Tokage.ControlPlane.Data;
using Tokage.Integrations;

namespace Tokage.ControlPlane.Apis;

/// <summary>
/// Who calls the control plane's API: the operator (the admin token: every tenant), or a tenant — one of its API keys
/// or a console member's session — for its own tenant's routes only. Another tenant's routes answer 404, as if absent.
/// </summary>
internal sealed record ControlPlaneCaller(Guid? TenantId, string? Role, Guid? MemberId, string[] Scopes)
{
    public static ControlPlaneCaller Operator { get; } = new(null, null, null, []);

    public bool IsOperator => TenantId is null;

    /// <summary>A member's session whose role is below <paramref name="role"/> (the operator and keys are not members).</summary>
    public bool IsMemberBelow(string role) => Role is { } own && !MemberRoles.Includes(own, role);

    public static ControlPlaneCaller Of(HttpContext http) => (ControlPlaneCaller)http.Items[typeof(ControlPlaneCaller)]!;
}

/// <summary>Endpoint metadata: the least member role a tenant caller needs (else GET needs viewer, the rest admin).</summary>
internal sealed record RequiresRole(string Role);

/// <summary>Endpoint metadata: the operator's alone (creating, suspending, re-rating tenants).</summary>
internal sealed record OperatorOnly;

internal static class ControlPlaneAccess
{
    public static TBuilder RequireRole<TBuilder>(this TBuilder builder, string role) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiresRole(role));

    public static TBuilder OperatorOnly<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new OperatorOnly());

    /// <summary>The group filter: lets the operator through, and a tenant caller to its own tenant with the role the route needs.</summary>
    public static async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var admin = http.RequestServices.GetRequiredService<AdminToken>();
        if (admin.Accepts(http.Request.Headers.Authorization.FirstOrDefault()))
        {
            http.Items[typeof(ControlPlaneCaller)] = ControlPlaneCaller.Operator;
            return await next(context);
        }

        var key = ApiKeyHttp.ReadKey(http.Request);
        if (!ApiKeyFormat.LooksValid(key))
        {
            // Neither the admin token nor anything shaped like a key: the admin token's own answer (401, or 503 when unset).
            return admin.Refusal(http);
        }

        var endpoint = http.GetEndpoint();
        var db = http.RequestServices.GetRequiredService<ControlPlaneDbContext>();
        var (identity, refusal) = await ResolveAsync(db, key!, http);
        if (refusal is not null)
        {
            return refusal;
        }

        ApiKeyHttp.Remember(http, identity!);
        if (identity!.IsScoped)
        {
            return KeyScope.Refusal(identity);
        }

        if (endpoint?.Metadata.GetMetadata<OperatorOnly>() is not null || http.Request.RouteValues["tenant"] is not string tenant)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
                detail: "Only the operator (the admin token) may do this; a tenant manages its own tenant's routes under /v1/tenants/{tenant}.");
        }

        if (tenant != identity.TenantId && tenant != identity.TenantName)
        {
            return ApiErrors.NotFound($"Tenant '{tenant}'");
        }

        var needed = endpoint?.Metadata.GetMetadata<RequiresRole>()?.Role
            ?? (HttpMethods.IsGet(http.Request.Method) ? MemberRoles.Viewer : MemberRoles.Admin);
        if (identity.Role is { } role)
        {
            if (!MemberRoles.Includes(role, needed))
            {
                return ApiKeyHttp.MissingRole(role, needed);
            }
        }
        else if (needed == MemberRoles.Owner)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
                detail: "This needs the 'owner' role: a member signed in as an owner (API keys cannot manage members).",
                extensions: new Dictionary<string, object?> { ["missing_role"] = MemberRoles.Owner });
        }
        else
        {
            // A key: reading needs 'read', anything else 'admin' (members' own-key rights are a session's).
            var scope = needed == MemberRoles.Viewer ? ApiKeyScopes.Read : ApiKeyScopes.Admin;
            if (!identity.HasScope(scope))
            {
                return ApiKeyHttp.Forbidden(identity, scope);
            }
        }

        http.Items[typeof(ControlPlaneCaller)] = new ControlPlaneCaller(
            Guid.Parse(identity.TenantId), identity.Role, identity.MemberId is { } member ? Guid.Parse(member) : null, [.. identity.Scopes]);
        return await next(context);
    }

    /// <summary>The key's owner, from the control plane's own lookup function (the keys are this service's).</summary>
    public static async Task<(ApiKeyIdentity? Identity, IResult? Refusal)> ResolveAsync(ControlPlaneDbContext db, string key, HttpContext http)
    {
        var hash = ApiKeyFormat.Hash(key);
        var rows = await db.Database
            .SqlQuery<ResolvedKey>($"SELECT key_id, tenant_id, tenant_name, tenant_status, scopes, expires_at, revoked, role, member_id, scope_kind, scope_value FROM tokage_resolve_api_key({hash})")
            .ToListAsync(http.RequestAborted);
        var now = DateTimeOffset.UtcNow;
        if (rows is not [var row] || row.Revoked || row.ExpiresAt <= now)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return (null, Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: "The admin token, a valid API key or a console session is required."));
        }

        if (!string.Equals(row.TenantStatus, nameof(TenantStatus.Active), StringComparison.OrdinalIgnoreCase))
        {
            return (null, Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "This tenant is suspended."));
        }

        return (new ApiKeyIdentity(row.TenantId.ToString(), row.TenantName, row.KeyId.ToString(), row.Scopes, 0, 0, false, row.ExpiresAt,
            row.Role, row.MemberId?.ToString(), row.ScopeKind, row.ScopeValue), null);
    }

    private sealed record ResolvedKey(
        Guid KeyId, Guid TenantId, string TenantName, string TenantStatus, string[] Scopes, DateTimeOffset? ExpiresAt, bool Revoked, string? Role, Guid? MemberId,
        string? ScopeKind, string? ScopeValue);
}
