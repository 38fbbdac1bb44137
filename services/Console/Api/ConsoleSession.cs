using System.Security.Claims;

namespace Tokage.Console.Api;

/// <summary>
/// The signed-in member as the console's cookie carries it: who, which tenant, which role, and the session token the
/// control plane issued, which every API call presents (the cookie is encrypted; the browser never sees the token).
/// </summary>
public sealed record ConsoleSession(string MemberId, string Email, string? DisplayName, string Role, string TenantId, string TenantName, string Token, DateTimeOffset ExpiresAt)
{
    public const string TokenClaim = "tokage:session";
    public const string TenantIdClaim = "tokage:tenant_id";
    public const string TenantNameClaim = "tokage:tenant_name";
    public const string ExpiresClaim = "tokage:expires_at";

    /// <summary>A session as the control plane answers a sign-in: <c>{token, expires_at, member, tenant}</c>.</summary>
    public static ConsoleSession FromApi(System.Text.Json.Nodes.JsonNode session)
    {
        var member = session["member"]!;
        var tenant = session["tenant"]!;
        return new ConsoleSession(
            (string)member["id"]!, (string)member["email"]!, (string?)member["display_name"], (string)member["role"]!,
            (string)tenant["tenant_id"]!, (string)tenant["name"]!, (string)session["token"]!, session["expires_at"]!.GetValue<DateTimeOffset>());
    }

    public ClaimsPrincipal ToPrincipal(string scheme)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, MemberId),
            new(ClaimTypes.Email, Email),
            new(ClaimTypes.Name, DisplayName ?? Email),
            new(ClaimTypes.Role, Role),
            new(TenantIdClaim, TenantId),
            new(TenantNameClaim, TenantName),
            new(TokenClaim, Token),
            new(ExpiresClaim, ExpiresAt.ToString("O")),
        };
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    public static ConsoleSession? From(ClaimsPrincipal user)
    {
        if (user.Identity?.IsAuthenticated != true || user.FindFirstValue(TokenClaim) is not { } token)
        {
            return null;
        }

        return new ConsoleSession(
            user.FindFirstValue(ClaimTypes.NameIdentifier)!, user.FindFirstValue(ClaimTypes.Email)!, user.FindFirstValue(ClaimTypes.Name),
            user.FindFirstValue(ClaimTypes.Role)!, user.FindFirstValue(TenantIdClaim)!, user.FindFirstValue(TenantNameClaim)!, token,
            DateTimeOffset.Parse(user.FindFirstValue(ExpiresClaim)!, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Whether the member's role is <paramref name="role"/> or above (viewer &lt; member &lt; admin &lt; owner).</summary>
    public bool IsAtLeast(string role) => Array.IndexOf(Roles, Role) >= Array.IndexOf(Roles, role);

    private static readonly string[] Roles = ["viewer", "member", "admin", "owner"];
}
