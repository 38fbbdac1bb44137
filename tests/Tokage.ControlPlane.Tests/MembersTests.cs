using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Web;
using Tokage.Contracts.V1;

namespace Tokage.ControlPlane.Tests;

/// <summary>
/// Console members without the operator: invitation links, sign-in sessions that every service resolves like keys (with
/// the member's role), roles enforced with the missing role named, another tenant's ids answering 404, and password reset.
/// </summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class MembersTests(ControlPlaneStack stack)
{
    private const string Password = ControlPlaneStack.MemberPassword;

    [Fact]
    public async Task AnInvitedOwnerJoinsSignsInAndTheSessionResolvesWithTheOwnersRole()
    {
        var tenant = (string)(await stack.CreateTenantAsync("members-join"))["tenant_id"]!;
        var invited = await stack.PostAsync($"/v1/tenants/{tenant}/members", new { email = "ada@join.example", role = "owner", display_name = "Ada" });
        Assert.Equal("invited", (string)invited["member"]!["status"]!);
        var link = new Uri((string)invited["invitation_url"]!);
        Assert.Equal(link, await stack.ReadMailedLinkAsync("ada@join.example", "invited"));

        // Not joined yet: no sign-in.
        using (var early = await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/sign-in", new { email = "ada@join.example", password = Password }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, early.StatusCode);
        }

        var joined = await AcceptAsync(link, Password);
        Assert.Equal("active", (string)joined["member"]!["status"]!);

        // The same link works once.
        using (var again = await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/invitations/accept", InvitationBody(link, Password)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
        }

        var session = await SignInAsync("ADA@join.example", Password);
        var token = (string)session["token"]!;
        Assert.StartsWith("tok_live_", token);

        // Every service resolves it like a key: the auth service answers with the member's role and the role's scopes.
        var resolved = await stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = token });
        Assert.Equal(tenant, resolved.TenantId);
        Assert.Equal("owner", resolved.Role);
        Assert.Equal((string)joined["member"]!["id"]!, resolved.MemberId);
        Assert.Equal(["read", "ingest", "billing", "admin"], resolved.Scopes);

        using var me = await stack.ControlPlaneAs(token).GetAsync("/v1/auth/me");
        Assert.Equal("ada@join.example", (string)JsonNode.Parse(await me.Content.ReadAsStringAsync())!["member"]!["email"]!);

        // Sessions are not keys a tenant lists.
        using (var keys = await stack.ControlPlaneAs(token).GetAsync($"/v1/tenants/{tenant}/keys"))
        {
            var names = JsonNode.Parse(await keys.Content.ReadAsStringAsync())!["keys"]!.AsArray().Select(k => (string)k!["name"]!);
            Assert.DoesNotContain("console session", names);
        }

        using (var signOut = await stack.ControlPlaneAs(token).PostAsync("/v1/auth/sign-out", null))
        {
            Assert.Equal(HttpStatusCode.NoContent, signOut.StatusCode);
        }

        await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = token }));
    }

    [Fact]
    public async Task EachRoleMayDoWhatItsRoleAllowsAndEveryDenialNamesTheMissingRole()
    {
        var tenant = (string)(await stack.CreateTenantAsync("members-roles"))["tenant_id"]!;
        var owner = await JoinAsync(tenant, "owner@roles.example", "owner");
        var admin = await JoinAsync(tenant, "admin@roles.example", "admin");
        var member = await JoinAsync(tenant, "member@roles.example", "member");
        var viewer = await JoinAsync(tenant, "viewer@roles.example", "viewer");
        var budget = new { name = "monthly", period = "monthly", amount_usd = "100" };

        // Viewers read and nothing else.
        using (var read = await stack.ControlPlaneAs(viewer).GetAsync($"/v1/tenants/{tenant}/budgets"))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        await AssertMissingRoleAsync(await stack.ControlPlaneAs(viewer).PostAsJsonAsync($"/v1/tenants/{tenant}/budgets", budget), "admin", "viewer");
        await AssertMissingRoleAsync(await stack.ControlPlaneAs(viewer).PostAsJsonAsync($"/v1/tenants/{tenant}/keys", new { name = "mine" }), "member", "viewer");

        // Members make ingest/read keys and manage their own, not others' and not admin keys.
        var own = await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(member).PostAsJsonAsync($"/v1/tenants/{tenant}/keys", new { name = "mine" }), HttpStatusCode.Created);
        await AssertMissingRoleAsync(await stack.ControlPlaneAs(member).PostAsJsonAsync($"/v1/tenants/{tenant}/keys", new { name = "big", scopes = new[] { "admin" } }), "admin", "member");
        await AssertMissingRoleAsync(await stack.ControlPlaneAs(member).PostAsJsonAsync($"/v1/tenants/{tenant}/budgets", budget), "admin", "member");
        var adminsKey = await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(admin).PostAsJsonAsync($"/v1/tenants/{tenant}/keys", new { name = "ops", scopes = new[] { "read", "admin" } }), HttpStatusCode.Created);
        await AssertMissingRoleAsync(await stack.ControlPlaneAs(member).PostAsync($"/v1/tenants/{tenant}/keys/{(string)adminsKey["id"]!}/revoke", null), "admin", "member");
        await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(member).PostAsync($"/v1/tenants/{tenant}/keys/{(string)own["id"]!}/revoke", null), HttpStatusCode.OK);

        // Admins manage budgets but not members; owners manage members.
        await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(admin).PostAsJsonAsync($"/v1/tenants/{tenant}/budgets", budget), HttpStatusCode.Created);
        await AssertMissingRoleAsync(await stack.ControlPlaneAs(admin).PostAsJsonAsync($"/v1/tenants/{tenant}/members", new { email = "x@roles.example", role = "viewer" }), "owner", "admin");
        await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(owner).PostAsJsonAsync($"/v1/tenants/{tenant}/members", new { email = "x@roles.example", role = "viewer" }), HttpStatusCode.Created);

        // Tenant callers never reach the operator's routes.
        using (var all = await stack.ControlPlaneAs(owner).GetAsync("/v1/tenants"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, all.StatusCode);
        }

        using (var suspend = await stack.ControlPlaneAs(owner).PostAsync($"/v1/tenants/{tenant}/suspend", null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, suspend.StatusCode);
        }
    }

    [Fact]
    public async Task AnotherTenantsIdsAnswer404AndItsDataNeverShows()
    {
        var a = (string)(await stack.CreateTenantAsync("members-iso-a"))["tenant_id"]!;
        var b = (string)(await stack.CreateTenantAsync("members-iso-b"))["tenant_id"]!;
        await stack.PostAsync($"/v1/tenants/{a}/budgets", new { name = "secret-budget", period = "monthly", amount_usd = "5" });
        var ownerOfB = await JoinAsync(b, "owner@iso-b.example", "owner");

        foreach (var path in new[] { $"/v1/tenants/{a}", $"/v1/tenants/{a}/budgets", $"/v1/tenants/{a}/keys", $"/v1/tenants/{a}/members", "/v1/tenants/members-iso-a/budgets" })
        {
            using var response = await stack.ControlPlaneAs(ownerOfB).GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"GET {path}: {(int)response.StatusCode}");
            Assert.DoesNotContain("secret-budget", await response.Content.ReadAsStringAsync());
        }

        using (var write = await stack.ControlPlaneAs(ownerOfB).PostAsJsonAsync($"/v1/tenants/{a}/members", new { email = "intruder@iso-b.example", role = "owner" }))
        {
            Assert.Equal(HttpStatusCode.NotFound, write.StatusCode);
        }

        // A member id of tenant A named under tenant B is not found either.
        var memberOfA = await stack.PostAsync($"/v1/tenants/{a}/members", new { email = "someone@iso-a.example", role = "viewer" });
        using (var cross = await stack.ControlPlaneAs(ownerOfB).DeleteAsync($"/v1/tenants/{b}/members/{(string)memberOfA["member"]!["id"]!}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, cross.StatusCode);
        }
    }

    [Fact]
    public async Task AForgottenPasswordIsResetByTheMailedLinkOnceAndOldSessionsEnd()
    {
        var tenant = (string)(await stack.CreateTenantAsync("members-reset"))["tenant_id"]!;
        var old = await JoinAsync(tenant, "grace@reset.example", "admin");

        using (var unknown = await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/password-reset", new { email = "nobody@reset.example" }))
        {
            Assert.Equal(HttpStatusCode.Accepted, unknown.StatusCode);
        }

        using (var asked = await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/password-reset", new { email = "grace@reset.example" }))
        {
            Assert.Equal(HttpStatusCode.Accepted, asked.StatusCode);
        }

        var link = await stack.ReadMailedLinkAsync("grace@reset.example", "Reset");
        Assert.Equal("/reset-password", link.AbsolutePath);
        var query = HttpUtility.ParseQueryString(link.Query);
        var body = new { member_id = query["member"], token = query["token"], password = "a brand new passphrase" };

        using (var tooShort = await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/password-reset/confirm", body with { password = "short" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, tooShort.StatusCode);
            Assert.Contains("password", await tooShort.Content.ReadAsStringAsync());
        }

        using (var reset = await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/password-reset/confirm", body))
        {
            Assert.Equal(HttpStatusCode.NoContent, reset.StatusCode);
        }

        using (var reused = await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/password-reset/confirm", body))
        {
            Assert.Equal(HttpStatusCode.BadRequest, reused.StatusCode);
        }

        using (var oldSession = await stack.ControlPlaneAs(old).GetAsync($"/v1/tenants/{tenant}/budgets"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, oldSession.StatusCode);
        }

        using (var oldPassword = await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/sign-in", new { email = "grace@reset.example", password = Password }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, oldPassword.StatusCode);
        }

        await SignInAsync("grace@reset.example", "a brand new passphrase");
    }

    [Fact]
    public async Task RepeatedWrongPasswordsLockTheMemberOut()
    {
        var tenant = (string)(await stack.CreateTenantAsync("members-lockout"))["tenant_id"]!;
        await JoinAsync(tenant, "mallory@lockout.example", "viewer");
        for (var attempt = 0; attempt < 5; attempt++)
        {
            using var wrong = await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/sign-in", new { email = "mallory@lockout.example", password = "not the password" });
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var locked = await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/sign-in", new { email = "mallory@lockout.example", password = Password });
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
    }

    [Fact]
    public async Task ARoleChangeEndsTheMembersSessionsAndTheLastOwnerStays()
    {
        var tenant = (string)(await stack.CreateTenantAsync("members-change"))["tenant_id"]!;
        var owner = await JoinAsync(tenant, "owner@change.example", "owner");
        var list = await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(owner).GetAsync($"/v1/tenants/{tenant}/members"), HttpStatusCode.OK);
        var ownerId = (string)list["members"]![0]!["id"]!;

        using (var demote = await stack.ControlPlaneAs(owner).PatchAsJsonAsync($"/v1/tenants/{tenant}/members/{ownerId}", new { role = "viewer" }))
        {
            Assert.Equal(HttpStatusCode.Conflict, demote.StatusCode);
        }

        var admin = await JoinAsync(tenant, "admin@change.example", "admin");
        var adminId = (string)(await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(owner).GetAsync($"/v1/tenants/{tenant}/members"), HttpStatusCode.OK))["members"]!
            .AsArray().Single(m => (string)m!["email"]! == "admin@change.example")!["id"]!;
        await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(owner).PatchAsJsonAsync($"/v1/tenants/{tenant}/members/{adminId}", new { role = "viewer" }), HttpStatusCode.OK);
        using (var ended = await stack.ControlPlaneAs(admin).GetAsync($"/v1/tenants/{tenant}/budgets"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, ended.StatusCode);
        }

        var asViewer = (string)(await SignInAsync("admin@change.example", Password))["token"]!;
        await AssertMissingRoleAsync(await stack.ControlPlaneAs(asViewer).PostAsJsonAsync($"/v1/tenants/{tenant}/budgets", new { name = "b", period = "daily", amount_usd = "1" }), "admin", "viewer");
    }

    [Fact]
    public async Task AdminsSetTheTenantsTimeZoneAndViewersCannot()
    {
        var tenant = (string)(await stack.CreateTenantAsync("settings-zone"))["tenant_id"]!;
        Assert.Equal("UTC", (string)(await stack.GetAsync($"/v1/tenants/{tenant}"))["time_zone"]!);
        var admin = await stack.SignedInMemberAsync(tenant, "admin@zone.example", "admin");
        var viewer = await stack.SignedInMemberAsync(tenant, "viewer@zone.example", "viewer");

        await AssertMissingRoleAsync(await stack.ControlPlaneAs(viewer).PatchAsJsonAsync($"/v1/tenants/{tenant}/settings", new { time_zone = "Asia/Tokyo" }), "admin", "viewer");
        foreach (var zone in new[] { "Mars/Olympus", "", "CET+1" })
        {
            var problem = await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(admin).PatchAsJsonAsync($"/v1/tenants/{tenant}/settings", new { time_zone = zone }), HttpStatusCode.BadRequest);
            Assert.Contains("IANA time zone", (string)problem["errors"]!["time_zone"]![0]!, StringComparison.Ordinal);
        }

        var changed = await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(admin).PatchAsJsonAsync($"/v1/tenants/{tenant}/settings", new { time_zone = "Asia/Tokyo" }), HttpStatusCode.OK);
        Assert.Equal("Asia/Tokyo", (string)changed["time_zone"]!);
        Assert.Equal("Asia/Tokyo", (string)(await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(viewer).GetAsync($"/v1/tenants/{tenant}"), HttpStatusCode.OK))["time_zone"]!);
    }

    private async Task<string> JoinAsync(string tenant, string email, string role)
    {
        var invited = await stack.PostAsync($"/v1/tenants/{tenant}/members", new { email, role });
        return (string)(await AcceptAsync(new Uri((string)invited["invitation_url"]!), Password))["token"]!;
    }

    private async Task<JsonObject> AcceptAsync(Uri link, string password) =>
        await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/invitations/accept", InvitationBody(link, password)), HttpStatusCode.OK);

    private static object InvitationBody(Uri link, string password)
    {
        var query = HttpUtility.ParseQueryString(link.Query);
        return new { member_id = query["member"], token = query["token"], password };
    }

    private async Task<JsonObject> SignInAsync(string email, string password) =>
        await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/sign-in", new { email, password }), HttpStatusCode.OK);

    private static async Task AssertMissingRoleAsync(HttpResponseMessage response, string needed, string own)
    {
        var problem = await ControlPlaneStack.ReadAsync(response, HttpStatusCode.Forbidden);
        Assert.Equal(needed, (string)problem["missing_role"]!);
        Assert.Equal($"This needs the '{needed}' role; you are '{own}'.", (string)problem["detail"]!);
    }
}
