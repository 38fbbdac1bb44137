using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.ControlPlane.Data;
using Tokage.ControlPlane.Members;

namespace Tokage.ControlPlane.Apis;

/// <summary>
/// Single sign-on with a tenant's own OpenID Connect provider. Owners configure it
/// (<c>/v1/tenants/{tenant}/sso</c>); the console starts the authorization-code flow with PKCE at the provider and hands
/// the code here (<c>POST /v1/auth/sso/sign-in</c>), where it is redeemed with the client secret and the ID token
/// checked before a session starts — the console never holds the secret and cannot make a session by itself.
/// The verified e-mail picks the member: an invited one joins, an unknown one joins with the configured role when
/// its domain is allowed, anyone else is refused.
/// </summary>
public static class SsoApi
{
    private const string SecretPurpose = "tokage.control-plane.sso-client-secret";

    public static RouteGroupBuilder MapSsoApi(this RouteGroupBuilder api)
    {
        var sso = api.MapGroup("/tenants/{tenant}/sso").WithTags("Single sign-on");
        sso.MapGet("/", GetAsync).RequireRole(MemberRoles.Admin);
        sso.MapPut("/", PutAsync).RequireRole(MemberRoles.Owner);
        sso.MapDelete("/", DeleteAsync).RequireRole(MemberRoles.Owner);
        return api;
    }

    public static RouteGroupBuilder MapSsoSignIn(this RouteGroupBuilder auth)
    {
        auth.MapGet("/sso", DiscoverAsync);
        auth.MapPost("/sso/sign-in", SignInAsync);
        return auth;
    }

    private static Task<IResult> GetAsync(string tenant, ControlPlaneDbContext db, CancellationToken cancellationToken) =>
        ApiErrors.InTenantAsync(db, tenant, cancellationToken, async found =>
            await db.TenantSso.FirstOrDefaultAsync(s => s.TenantId == found.Id, cancellationToken) is { } sso
                ? Results.Ok(SsoDto.From(sso))
                : ApiErrors.NotFound($"Single sign-on for tenant '{tenant}'"));

    private static async Task<IResult> PutAsync(
        string tenant, SsoRequest? request, HttpContext http, ControlPlaneDbContext db, OidcCodeRedemption oidc, IDataProtectionProvider protection,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var authority = request?.Authority?.Trim().TrimEnd('/');
        if (string.IsNullOrEmpty(authority) || authority.Length > 500 || !oidc.IsAllowedAuthority(authority))
        {
            return ApiErrors.Invalid("authority", "'authority' is the identity provider's issuer URL, https://… (its /.well-known/openid-configuration is read), at most 500 characters.");
        }

        if (string.IsNullOrWhiteSpace(request!.ClientId) || request.ClientId.Length > 200)
        {
            return ApiErrors.Invalid("client_id", "'client_id' (the client registered at the identity provider) is required, at most 200 characters.");
        }

        if (request.JoinRole is { } role && !MemberRoles.IsRole(role))
        {
            return ApiErrors.Invalid("join_role", $"'join_role' must be one of {string.Join(", ", MemberRoles.All)}, or null for invited members only.");
        }

        if (request.JoinRole == MemberRoles.Owner)
        {
            return ApiErrors.Invalid("join_role", "Nobody joins as an owner by signing in: invite owners.");
        }

        var domains = (request.JoinDomains ?? []).Select(d => d.Trim().TrimStart('@').ToLowerInvariant()).Distinct().ToArray();
        if (domains.Any(d => d.Length is 0 or > 253 || Uri.CheckHostName(d) != UriHostNameType.Dns || !d.Contains('.')))
        {
            return ApiErrors.Invalid("join_domains", "'join_domains' are e-mail domains such as 'example.com'.");
        }

        if (request.JoinRole is not null && domains.Length == 0)
        {
            return ApiErrors.Invalid("join_domains", "With 'join_role', name the e-mail domains whose people may join ('join_domains'): a provider's every account must not join.");
        }

        return await ApiErrors.InTenantAsync(db, tenant, cancellationToken, async found =>
        {
            var sso = await db.TenantSso.FirstOrDefaultAsync(s => s.TenantId == found.Id, cancellationToken);
            var before = sso is null ? null : SsoDto.From(sso);
            if (sso is null)
            {
                sso = new TenantSso { TenantId = found.Id, Authority = authority, ClientId = request.ClientId.Trim() };
                db.TenantSso.Add(sso);
            }

            sso.Authority = authority;
            sso.ClientId = request.ClientId.Trim();
            // Absent keeps the secret; "" removes it (a public client).
            if (request.ClientSecret is { } secret)
            {
                sso.ClientSecret = secret.Length == 0 ? null : protection.CreateProtector(SecretPurpose).Protect(secret);
            }

            sso.JoinRole = request.JoinRole;
            sso.JoinDomains = domains;
            sso.UpdatedAt = time.GetUtcNow();
            // The record says whether there is a client secret, never the secret.
            db.Audit(http, found.Id, AuditKinds.SsoConfigured, $"sso:{found.Id}", before, SsoDto.From(sso));
            await db.SaveChangesAsync(cancellationToken);
            return Results.Ok(SsoDto.From(sso));
        });
    }

    private static Task<IResult> DeleteAsync(string tenant, HttpContext http, ControlPlaneDbContext db, CancellationToken cancellationToken) =>
        ApiErrors.InTenantAsync(db, tenant, cancellationToken, async found =>
        {
            if (await db.TenantSso.FirstOrDefaultAsync(s => s.TenantId == found.Id, cancellationToken) is not { } sso)
            {
                return ApiErrors.NotFound($"Single sign-on for tenant '{tenant}'");
            }

            db.TenantSso.Remove(sso);
            db.Audit(http, found.Id, AuditKinds.SsoRemoved, $"sso:{found.Id}", SsoDto.From(sso), null);
            await db.SaveChangesAsync(cancellationToken);
            return Results.NoContent();
        });

    /// <summary>
    /// <c>GET /v1/auth/sso?organization=</c> (no credentials): what the console needs to send a person to the tenant's
    /// provider — never the secret. A tenant without single sign-on is a 404, like one that does not exist.
    /// </summary>
    private static async Task<IResult> DiscoverAsync(string? organization, ControlPlaneDbContext db, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(organization))
        {
            return ApiErrors.Invalid("organization", "'organization' (the tenant's name or id) is required.");
        }

        var (tenant, sso) = await FindAsync(db, organization.Trim(), cancellationToken);
        return sso is null || tenant is null
            ? ApiErrors.NotFound($"Single sign-on for '{organization.Trim()}'")
            : Results.Ok(new { tenant_id = tenant.Id.ToString(), tenant_name = tenant.Name, authority = sso.Authority, client_id = sso.ClientId });
    }

    private static async Task<IResult> SignInAsync(
        SsoSignInRequest? request, HttpContext http, ControlPlaneDbContext db, OidcCodeRedemption oidc, IDataProtectionProvider protection,
        UserManager<Member> members, MemberSessions sessions, TimeProvider time, CancellationToken cancellationToken)
    {
        if (request?.TenantId is not { } tenantId || string.IsNullOrEmpty(request.Code) || string.IsNullOrEmpty(request.CodeVerifier)
            || !Uri.TryCreate(request.RedirectUri, UriKind.Absolute, out _))
        {
            return ApiErrors.Invalid("code", "'tenant_id', 'code', 'code_verifier' and 'redirect_uri' (as sent to the identity provider) are required.");
        }

        var (tenant, sso) = await FindAsync(db, tenantId.ToString(), cancellationToken);
        if (tenant is null || sso is null)
        {
            return ApiErrors.NotFound($"Single sign-on for tenant '{tenantId}'");
        }

        if (tenant.Status != TenantStatus.Active)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "This tenant is suspended.");
        }

        var secret = sso.ClientSecret is null ? null : protection.CreateProtector(SecretPurpose).Unprotect(sso.ClientSecret);
        var (identity, error) = await oidc.RedeemAsync(sso, secret, request.Code, request.CodeVerifier, request.RedirectUri!, cancellationToken);
        if (identity is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Single sign-on failed", detail: error);
        }

        var member = await members.FindByEmailAsync(identity.Email);
        var domain = identity.Email[(identity.Email.LastIndexOf('@') + 1)..].ToLowerInvariant();
        if (member is null && sso.JoinRole is { } role && sso.JoinDomains.Contains(domain, StringComparer.Ordinal))
        {
            member = new Member
            {
                Id = Guid.CreateVersion7(), TenantId = tenant.Id, UserName = identity.Email, Email = identity.Email, EmailConfirmed = true,
                Role = role, CreatedAt = time.GetUtcNow(), JoinedAt = time.GetUtcNow(),
            };
            db.Audit(SignedIn(http, member), tenant.Id, AuditKinds.MemberJoined, $"member:{member.Id}", null, MemberDto.From(member));
            var created = await members.CreateAsync(member);
            if (!created.Succeeded)
            {
                db.ChangeTracker.Clear();
                return ApiErrors.Conflict(string.Join(" ", created.Errors.Select(e => e.Description)));
            }
        }

        // The same answer whether the e-mail is nobody's or another tenant's: sign-in tells nobody who is a member where.
        if (member is null || member.TenantId != tenant.Id)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not a member",
                detail: $"'{identity.Email}' is not a member of {tenant.Name}: ask an owner to invite you.");
        }

        if (member.JoinedAt is null)
        {
            // The provider vouched for the invited e-mail: that accepts the invitation.
            var before = MemberDto.From(member);
            member.JoinedAt = time.GetUtcNow();
            member.EmailConfirmed = true;
            db.Audit(SignedIn(http, member), tenant.Id, AuditKinds.MemberJoined, $"member:{member.Id}", before, MemberDto.From(member));
            await members.UpdateAsync(member);
        }

        var (token, expiresAt) = await sessions.StartAsync(member, tenant, cancellationToken);
        return Results.Ok(new SsoSessionDto(token, expiresAt, MemberDto.From(member), TenantDto.From(tenant), identity.IdToken, identity.AccessToken));
    }

    /// <summary>A member who joined by signing in at the tenant's provider: the record names the member.</summary>
    private static AuditActor SignedIn(HttpContext http, Member member) => RequestActor.Of(http) with { Type = AuditActor.Member, Id = member.Id.ToString() };

    private static async Task<(Tenant? Tenant, TenantSso? Sso)> FindAsync(ControlPlaneDbContext db, string organization, CancellationToken cancellationToken)
    {
        if (await db.FindTenantAsync(organization, cancellationToken) is not { } tenant)
        {
            return (null, null);
        }

        await using var transaction = await db.BeginTenantScopeAsync(tenant.Id, cancellationToken);
        var sso = await db.TenantSso.AsNoTracking().FirstOrDefaultAsync(s => s.TenantId == tenant.Id, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (tenant, sso);
    }
}

public sealed record SsoRequest(string? Authority, string? ClientId, string? ClientSecret, string? JoinRole, string[]? JoinDomains);

public sealed record SsoSignInRequest(Guid? TenantId, string? Code, string? CodeVerifier, string? RedirectUri);

/// <summary>
/// A session started by single sign-on, with the provider's token response (to the caller that proved the code and its
/// PKCE verifier): the console's OpenID Connect handler checks the ID token's nonce and the response as its own.
/// </summary>
public sealed record SsoSessionDto(string Token, DateTimeOffset ExpiresAt, MemberDto Member, TenantDto Tenant, string IdToken, string AccessToken);

public sealed record SsoDto(string Authority, string ClientId, bool HasClientSecret, string? JoinRole, string[] JoinDomains, DateTimeOffset UpdatedAt)
{
    public static SsoDto From(TenantSso sso) => new(sso.Authority, sso.ClientId, sso.ClientSecret is not null, sso.JoinRole, sso.JoinDomains, sso.UpdatedAt);
}
