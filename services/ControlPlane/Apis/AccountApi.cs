using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.ControlPlane.Data;
using Tokage.ControlPlane.Members;

namespace Tokage.ControlPlane.Apis;

/// <summary>
/// Members signing in without the operator: <c>/v1/auth</c> — sign in (a session), sign out, who am I, accept an
/// invitation, and reset a forgotten password by a signed link. Wrong e-mail, wrong password and not-yet-joined all get
/// the same 401; repeated failures lock the member out for a while (Identity's lockout).
/// </summary>
public static class AccountApi
{
    public static WebApplication MapAccountApi(this WebApplication app)
    {
        var auth = app.MapGroup("/v1/auth").WithTags("Sign-in");
        auth.MapPost("/sign-in", SignInAsync);
        auth.MapPost("/sign-out", SignOutAsync);
        auth.MapGet("/me", MeAsync);
        auth.MapPost("/invitations/accept", AcceptInvitationAsync);
        auth.MapPost("/password-reset", RequestPasswordResetAsync);
        auth.MapPost("/password-reset/confirm", ResetPasswordAsync);
        auth.MapSsoSignIn();
        return app;
    }

    private static async Task<IResult> SignInAsync(
        SignInRequest? request, UserManager<Member> members, ControlPlaneDbContext db, MemberSessions sessions, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request?.Email) || string.IsNullOrEmpty(request.Password))
        {
            return ApiErrors.Invalid("email", "'email' and 'password' are required.");
        }

        var member = await members.FindByEmailAsync(request.Email.Trim());
        if (member is not null && await members.IsLockedOutAsync(member))
        {
            return Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many attempts",
                detail: "Too many failed sign-ins: try again in a few minutes, or reset the password.");
        }

        if (member?.JoinedAt is null || !await members.CheckPasswordAsync(member, request.Password))
        {
            if (member?.JoinedAt is not null)
            {
                await members.AccessFailedAsync(member);
            }

            return WrongCredentials();
        }

        await members.ResetAccessFailedCountAsync(member);
        var tenant = await db.Tenants.FirstAsync(t => t.Id == member.TenantId, cancellationToken);
        if (tenant.Status != TenantStatus.Active)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "This tenant is suspended.");
        }

        var (secret, expiresAt) = await sessions.StartAsync(member, tenant, cancellationToken);
        return Results.Ok(new SessionDto(secret, expiresAt, MemberDto.From(member), TenantDto.From(tenant)));
    }

    private static async Task<IResult> SignOutAsync(HttpContext http, ControlPlaneDbContext db, MemberSessions sessions, CancellationToken cancellationToken)
    {
        var (identity, refusal) = await ReadSessionAsync(http, db);
        if (refusal is not null)
        {
            return refusal;
        }

        await sessions.EndAsync(Guid.Parse(identity!.TenantId), ApiKeyHttp.ReadKey(http.Request)!, cancellationToken);
        return Results.NoContent();
    }

    private static async Task<IResult> MeAsync(HttpContext http, ControlPlaneDbContext db, CancellationToken cancellationToken)
    {
        var (identity, refusal) = await ReadSessionAsync(http, db);
        if (refusal is not null)
        {
            return refusal;
        }

        var memberId = Guid.Parse(identity!.MemberId!);
        var member = await db.Members.FirstAsync(m => m.Id == memberId, cancellationToken);
        var tenant = await db.Tenants.FirstAsync(t => t.Id == member.TenantId, cancellationToken);
        return Results.Ok(new { member = MemberDto.From(member), tenant = TenantDto.From(tenant), expires_at = identity.ExpiresAt });
    }

    private static async Task<IResult> AcceptInvitationAsync(
        AcceptInvitationRequest? request, HttpContext http, UserManager<Member> members, ControlPlaneDbContext db, MemberSessions sessions, TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (request?.MemberId is not { } id || string.IsNullOrEmpty(request.Token))
        {
            return ApiErrors.Invalid("token", "'member_id' and 'token' (from the invitation link) are required.");
        }

        if (request.DisplayName is { Length: > 100 })
        {
            return ApiErrors.Invalid("display_name", "'display_name' is at most 100 characters.");
        }

        var member = await members.FindByIdAsync(id.ToString());
        if (member is null || member.JoinedAt is not null
            || !await members.VerifyUserTokenAsync(member, InvitationTokenProvider.ProviderName, InvitationTokenProvider.Purpose, request.Token))
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid invitation",
                detail: "This invitation link is not valid: it expired, was already used, or was replaced by a newer one. Ask an owner for a new link.");
        }

        var added = await members.AddPasswordAsync(member, request.Password ?? "");
        if (!added.Succeeded)
        {
            return PasswordProblem(added);
        }

        var before = MemberDto.From(member);
        member.JoinedAt = time.GetUtcNow();
        member.EmailConfirmed = true;
        member.DisplayName = request.DisplayName ?? member.DisplayName;
        db.Audit(Self(http, member), member.TenantId, AuditKinds.MemberJoined, $"member:{member.Id}", before, MemberDto.From(member));
        await members.UpdateAsync(member);
        var tenant = await db.Tenants.FirstAsync(t => t.Id == member.TenantId, cancellationToken);
        var (secret, expiresAt) = await sessions.StartAsync(member, tenant, cancellationToken);
        return Results.Ok(new SessionDto(secret, expiresAt, MemberDto.From(member), TenantDto.From(tenant)));
    }

    /// <summary>Always 202, whether or not the e-mail belongs to a member: the answer tells nobody who is a member.</summary>
    private static async Task<IResult> RequestPasswordResetAsync(
        PasswordResetRequest? request, UserManager<Member> members, IMemberMail mail, IOptions<ControlPlaneOptions> options, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request?.Email))
        {
            return ApiErrors.Invalid("email", "'email' is required.");
        }

        var member = await members.FindByEmailAsync(request.Email.Trim());
        if (member?.JoinedAt is not null)
        {
            var token = await members.GeneratePasswordResetTokenAsync(member);
            var link = Link(options.Value, "reset-password", member.Id, token);
            await mail.SendAsync(member.Email!, "Reset your Tokage password",
                $"Someone asked to reset the password of {member.Email} on Tokage. To choose a new one, open:\n\n{link}\n\n" +
                "The link works for 2 hours and once. If it was not you, ignore this message.", cancellationToken);
        }

        return Results.Accepted(value: new { status = "If this e-mail belongs to a member, a reset link is on its way." });
    }

    private static async Task<IResult> ResetPasswordAsync(
        ResetPasswordRequest? request, HttpContext http, UserManager<Member> members, ControlPlaneDbContext db, MemberSessions sessions,
        CancellationToken cancellationToken)
    {
        if (request?.MemberId is not { } id || string.IsNullOrEmpty(request.Token))
        {
            return ApiErrors.Invalid("token", "'member_id' and 'token' (from the reset link) are required.");
        }

        var member = await members.FindByIdAsync(id.ToString());
        if (member?.JoinedAt is null)
        {
            return InvalidResetLink();
        }

        // Saved with the new password (the user store's SaveChanges); the record holds no password, old or new.
        db.Audit(Self(http, member), member.TenantId, AuditKinds.MemberPasswordReset, $"member:{member.Id}", null, MemberDto.From(member));
        var reset = await members.ResetPasswordAsync(member, request.Token, request.Password ?? "");
        if (!reset.Succeeded)
        {
            db.ChangeTracker.Clear();
            return reset.Errors.Any(e => e.Code == nameof(IdentityErrorDescriber.InvalidToken)) ? InvalidResetLink() : PasswordProblem(reset);
        }

        // A new password ends every session the old one started.
        await members.ResetAccessFailedCountAsync(member);
        await members.SetLockoutEndDateAsync(member, null);
        await sessions.EndAllAsync(member.TenantId, member.Id, keysToo: false, Self(http, member), cancellationToken);
        return Results.NoContent();
    }

    /// <summary>A member acting through a signed link (no session yet): the record names the member.</summary>
    private static AuditActor Self(HttpContext http, Member member) => RequestActor.Of(http) with { Type = AuditActor.Member, Id = member.Id.ToString() };

    /// <summary>The console's page for a link: <c>{console}/{page}?member=…&amp;token=…</c>.</summary>
    internal static string Link(ControlPlaneOptions options, string page, Guid memberId, string token) =>
        $"{options.ConsoleUrl.TrimEnd('/')}/{page}?member={memberId}&token={Uri.EscapeDataString(token)}";

    internal static IResult PasswordProblem(IdentityResult result) =>
        ApiErrors.Invalid("password", string.Join(" ", result.Errors.Select(e => e.Description)));

    private static IResult WrongCredentials() =>
        Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: "The e-mail or the password is wrong.");

    private static IResult InvalidResetLink() =>
        Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid reset link",
            detail: "This reset link is not valid: it expired or was already used. Ask for a new one.");

    /// <summary>The caller's member session (sign-out and 'me' are for sessions, not keys).</summary>
    private static async Task<(ApiKeyIdentity? Identity, IResult? Refusal)> ReadSessionAsync(HttpContext http, ControlPlaneDbContext db)
    {
        var key = ApiKeyHttp.ReadKey(http.Request);
        if (!ApiKeyFormat.LooksValid(key))
        {
            return (null, Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: "A console session is required."));
        }

        var (identity, refusal) = await ControlPlaneAccess.ResolveAsync(db, key!, http);
        if (refusal is not null)
        {
            return (null, refusal);
        }

        return identity!.IsSession
            ? (identity, null)
            : (null, Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Not a session", detail: "This is an API key, not a console session."));
    }
}
