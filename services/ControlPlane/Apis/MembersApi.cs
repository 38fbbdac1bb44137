using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.ControlPlane.Data;
using Tokage.ControlPlane.Members;

namespace Tokage.ControlPlane.Apis;

/// <summary>
/// A tenant's console members: admins see them; owners (and the operator) invite, change roles and remove. An invitation
/// is a link with a signed token; the member chooses a password there. A tenant always keeps one owner.
/// </summary>
public static class MembersApi
{
    public static RouteGroupBuilder MapMembersApi(this RouteGroupBuilder api)
    {
        var members = api.MapGroup("/tenants/{tenant}/members").WithTags("Members");
        members.MapGet("/", ListAsync).RequireRole(MemberRoles.Admin);
        members.MapPost("/", InviteAsync).RequireRole(MemberRoles.Owner);
        members.MapPatch("/{memberId:guid}", UpdateAsync).RequireRole(MemberRoles.Owner);
        members.MapDelete("/{memberId:guid}", RemoveAsync).RequireRole(MemberRoles.Owner);
        members.MapPost("/{memberId:guid}/invitation", ReinviteAsync).RequireRole(MemberRoles.Owner);
        return api;
    }

    private static async Task<IResult> ListAsync(string tenant, ControlPlaneDbContext db, CancellationToken cancellationToken)
    {
        if (await db.FindTenantAsync(tenant, cancellationToken) is not { } found)
        {
            return ApiErrors.NotFound($"Tenant '{tenant}'");
        }

        var members = await db.Members.Where(m => m.TenantId == found.Id).OrderBy(m => m.CreatedAt).ToListAsync(cancellationToken);
        return Results.Ok(new { members = members.Select(MemberDto.From) });
    }

    private static async Task<IResult> InviteAsync(
        string tenant, InviteMemberRequest? request, HttpContext http, ControlPlaneDbContext db, UserManager<Member> members, IMemberMail mail,
        IOptions<ControlPlaneOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var email = request?.Email?.Trim();
        if (string.IsNullOrEmpty(email) || email.Length > 256 || !System.Net.Mail.MailAddress.TryCreate(email, out _))
        {
            return ApiErrors.Invalid("email", "'email' must be an e-mail address.");
        }

        if (!MemberRoles.IsRole(request!.Role))
        {
            return ApiErrors.Invalid("role", $"'role' must be one of {string.Join(", ", MemberRoles.All)}.");
        }

        if (request.DisplayName is { Length: > 100 })
        {
            return ApiErrors.Invalid("display_name", "'display_name' is at most 100 characters.");
        }

        if (await db.FindTenantAsync(tenant, cancellationToken) is not { } found)
        {
            return ApiErrors.NotFound($"Tenant '{tenant}'");
        }

        var member = new Member
        {
            Id = Guid.CreateVersion7(),
            TenantId = found.Id,
            Role = request.Role!,
            UserName = email,
            Email = email,
            DisplayName = request.DisplayName,
            CreatedAt = time.GetUtcNow(),
            LockoutEnabled = true,
        };
        // Saved by the user store's own SaveChanges, with the member.
        db.Audit(http, found.Id, AuditKinds.MemberInvited, $"member:{member.Id}", null, MemberDto.From(member));
        var created = await members.CreateAsync(member);
        if (!created.Succeeded)
        {
            db.ChangeTracker.Clear();
            return created.Errors.Any(e => e.Code is nameof(IdentityErrorDescriber.DuplicateEmail) or nameof(IdentityErrorDescriber.DuplicateUserName))
                ? ApiErrors.Conflict($"'{email}' is already a member (of this or another tenant): an e-mail signs in to one tenant.")
                : ApiErrors.Invalid("email", string.Join(" ", created.Errors.Select(e => e.Description)));
        }

        return Results.Created($"/v1/tenants/{found.Id}/members/{member.Id}", await InvitationAsync(member, found, members, mail, options.Value, time, cancellationToken));
    }

    /// <summary>A new invitation link for a member who has not joined yet (the previous link stops working).</summary>
    private static async Task<IResult> ReinviteAsync(
        string tenant, Guid memberId, HttpContext http, ControlPlaneDbContext db, UserManager<Member> members, IMemberMail mail,
        IOptions<ControlPlaneOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await FindAsync(db, tenant, memberId, cancellationToken) is not ({ } found, { } member))
        {
            return ApiErrors.NotFound($"Member '{memberId}' of tenant '{tenant}'");
        }

        if (member.JoinedAt is not null)
        {
            return ApiErrors.Conflict("This member has joined already; a forgotten password is reset from the sign-in page.");
        }

        db.Audit(http, found.Id, AuditKinds.MemberReinvited, $"member:{member.Id}", MemberDto.From(member), MemberDto.From(member));
        await members.UpdateSecurityStampAsync(member);
        return Results.Ok(await InvitationAsync(member, found, members, mail, options.Value, time, cancellationToken));
    }

    private static async Task<IResult> UpdateAsync(
        string tenant, Guid memberId, UpdateMemberRequest? request, HttpContext http, ControlPlaneDbContext db, MemberSessions sessions,
        CancellationToken cancellationToken)
    {
        if (!MemberRoles.IsRole(request?.Role))
        {
            return ApiErrors.Invalid("role", $"'role' must be one of {string.Join(", ", MemberRoles.All)}.");
        }

        if (await FindAsync(db, tenant, memberId, cancellationToken) is not ({ } found, { } member))
        {
            return ApiErrors.NotFound($"Member '{memberId}' of tenant '{tenant}'");
        }

        if (member.Role == MemberRoles.Owner && request!.Role != MemberRoles.Owner && await IsLastOwnerAsync(db, member, cancellationToken))
        {
            return ApiErrors.Conflict("This is the tenant's last owner: make another member owner first.");
        }

        if (member.Role != request!.Role)
        {
            var before = MemberDto.From(member);
            member.Role = request.Role!;
            db.Audit(http, found.Id, AuditKinds.MemberRoleChanged, $"member:{member.Id}", before, MemberDto.From(member));
            // Sessions carry the role they were started with: the member signs in again with the new one. The role and
            // its record are saved with the sessions' end, in one transaction.
            await sessions.EndAllAsync(found.Id, member.Id, keysToo: false, RequestActor.Of(http), cancellationToken);
        }

        return Results.Ok(MemberDto.From(member));
    }

    /// <summary>Removes a member: their sessions end and the keys they made are revoked.</summary>
    private static async Task<IResult> RemoveAsync(
        string tenant, Guid memberId, HttpContext http, ControlPlaneDbContext db, MemberSessions sessions, CancellationToken cancellationToken)
    {
        if (await FindAsync(db, tenant, memberId, cancellationToken) is not ({ } found, { } member))
        {
            return ApiErrors.NotFound($"Member '{memberId}' of tenant '{tenant}'");
        }

        if (member.Role == MemberRoles.Owner && await IsLastOwnerAsync(db, member, cancellationToken))
        {
            return ApiErrors.Conflict("This is the tenant's last owner: make another member owner first.");
        }

        // One transaction: the removal, its record, and the revocation of the member's keys and sessions.
        db.Audit(http, found.Id, AuditKinds.MemberRemoved, $"member:{member.Id}", MemberDto.From(member), null);
        db.Members.Remove(member);
        await sessions.EndAllAsync(found.Id, member.Id, keysToo: true, RequestActor.Of(http), cancellationToken);
        return Results.NoContent();
    }

    private static async Task<InvitedMemberDto> InvitationAsync(
        Member member, Tenant tenant, UserManager<Member> members, IMemberMail mail, ControlPlaneOptions options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var token = await members.GenerateUserTokenAsync(member, InvitationTokenProvider.ProviderName, InvitationTokenProvider.Purpose);
        var link = AccountApi.Link(options, "accept-invitation", member.Id, token);
        await mail.SendAsync(member.Email!, $"You are invited to {tenant.Name} on Tokage",
            $"You were invited to the Tokage console of '{tenant.Name}' as {member.Role}. To choose your password and sign in, open:\n\n{link}\n", cancellationToken);
        return new InvitedMemberDto(MemberDto.From(member), link, time.GetUtcNow() + options.InvitationLifetime);
    }

    private static async Task<(Tenant?, Member?)> FindAsync(ControlPlaneDbContext db, string tenant, Guid memberId, CancellationToken cancellationToken)
    {
        if (await db.FindTenantAsync(tenant, cancellationToken) is not { } found)
        {
            return (null, null);
        }

        return (found, await db.Members.FirstOrDefaultAsync(m => m.Id == memberId && m.TenantId == found.Id, cancellationToken));
    }

    private static async Task<bool> IsLastOwnerAsync(ControlPlaneDbContext db, Member member, CancellationToken cancellationToken) =>
        !await db.Members.AnyAsync(m => m.TenantId == member.TenantId && m.Role == MemberRoles.Owner && m.Id != member.Id, cancellationToken);
}
