using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tokage.Audit;
using Tokage.Integrations;

namespace Tokage.ApiKeys;

/// <summary>Who made a request, for the audit record of what it changed.</summary>
public static class RequestActor
{
    private const int MaxUserAgent = 300;

    /// <summary>
    /// The caller of an accepted request: the key or session its service resolved (kept on the request by
    /// <see cref="ApiKeyHttp.AuthenticateAsync"/>), else the operator when the admin token let it in.
    /// </summary>
    public static AuditActor Of(HttpContext http)
    {
        var address = http.Connection.RemoteIpAddress?.ToString();
        var agent = http.Request.Headers.UserAgent.ToString();
        var userAgent = agent.Length == 0 ? null : agent.Length > MaxUserAgent ? agent[..MaxUserAgent] : agent;
        if (ApiKeyHttp.IdentityOf(http) is { } identity)
        {
            // A member's session names the member; a key (whoever made it) names the key.
            return identity.IsSession && identity.MemberId is { } member
                ? new AuditActor(AuditActor.Member, member, address, userAgent)
                : new AuditActor(AuditActor.Key, identity.KeyId, address, userAgent);
        }

        var admin = http.RequestServices.GetService<AdminToken>();
        if (admin is not null && admin.Accepts(http.Request.Headers.Authorization.FirstOrDefault()))
        {
            return new AuditActor(AuditActor.Operator, "admin-token", address, userAgent);
        }

        // No credentials: a signed link's holder (an invitation, a password reset); those handlers name the member.
        return new AuditActor(AuditActor.Anonymous, "-", address, userAgent);
    }
}
