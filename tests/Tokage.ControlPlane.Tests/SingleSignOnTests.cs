using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tokage.Contracts.V1;

namespace Tokage.ControlPlane.Tests;

/// <summary>
/// Single sign-on with a tenant's own OpenID Connect provider (the local <see cref="OidcTestIssuer"/>, real JWTs): the
/// control plane redeems the code with the secret it keeps, checks the ID token, and starts a session only for a member
/// of that tenant — an invited one joins, a person of an allowed domain joins with the configured role, nobody else.
/// Forged tokens, a code without its PKCE verifier and another tenant's people are refused.
/// </summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class SingleSignOnTests(ControlPlaneStack stack) : IAsyncLifetime
{
    private const string RedirectUri = "http://localhost:8050/sso/callback";
    private OidcTestIssuer issuer = null!;

    public async Task InitializeAsync() => issuer = await OidcTestIssuer.StartAsync();

    public async Task DisposeAsync() => await issuer.DisposeAsync();

    [Fact]
    public async Task OwnersConfigureItAndTheSecretNeverComesBack()
    {
        var tenant = (string)(await stack.CreateTenantAsync("sso-config"))["tenant_id"]!;
        var owner = await stack.SignedInMemberAsync(tenant, "owner@config.example", "owner");
        var admin = await stack.SignedInMemberAsync(tenant, "admin@config.example", "admin");

        var configured = await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(owner).PutAsJsonAsync($"/v1/tenants/{tenant}/sso", Configuration()), HttpStatusCode.OK);
        Assert.Equal((issuer.Authority, "tokage-console", true), ((string)configured["authority"]!, (string)configured["client_id"]!, (bool)configured["has_client_secret"]!));
        Assert.DoesNotContain(issuer.ClientSecret, configured.ToJsonString(), StringComparison.Ordinal);

        // Admins read it, only owners change it.
        var read = await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(admin).GetAsync($"/v1/tenants/{tenant}/sso"), HttpStatusCode.OK);
        Assert.DoesNotContain(issuer.ClientSecret, read.ToJsonString(), StringComparison.Ordinal);
        var refused = await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(admin).PutAsJsonAsync($"/v1/tenants/{tenant}/sso", Configuration()), HttpStatusCode.Forbidden);
        Assert.Equal("owner", (string)refused["missing_role"]!);

        // Anyone may ask where to sign in for an organization: never the secret.
        var discovered = await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(null).GetAsync("/v1/auth/sso?organization=sso-config"), HttpStatusCode.OK);
        Assert.Equal((tenant, issuer.Authority, "tokage-console"), ((string)discovered["tenant_id"]!, (string)discovered["authority"]!, (string)discovered["client_id"]!));
        Assert.DoesNotContain(issuer.ClientSecret, discovered.ToJsonString(), StringComparison.Ordinal);
        await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(null).GetAsync("/v1/auth/sso?organization=no-such-organization"), HttpStatusCode.NotFound);

        // The row is the tenant's under RLS: the services' role outside the tenant's scope sees none.
        await using (var connection = new Npgsql.NpgsqlConnection(stack.AppRoleConnectionString))
        {
            await connection.OpenAsync();
            await using var count = new Npgsql.NpgsqlCommand("SELECT count(*) FROM tenant_sso", connection);
            Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
        }

        // Bad settings, each named.
        foreach (var (body, field) in new (object, string)[]
        {
            (new { authority = "ftp://idp.example", client_id = "x" }, "authority"),
            (new { authority = issuer.Authority, client_id = "" }, "client_id"),
            (new { authority = issuer.Authority, client_id = "x", join_role = "owner", join_domains = new[] { "config.example" } }, "join_role"),
            (new { authority = issuer.Authority, client_id = "x", join_role = "viewer" }, "join_domains"),
        })
        {
            var problem = await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(owner).PutAsJsonAsync($"/v1/tenants/{tenant}/sso", body), HttpStatusCode.BadRequest);
            Assert.True(problem["errors"]![field] is not null, problem.ToJsonString());
        }
    }

    [Fact]
    public async Task AnInvitedMemberSignsInThroughTheProviderAndJoins()
    {
        var tenant = (string)(await stack.CreateTenantAsync("sso-invited"))["tenant_id"]!;
        await stack.PutAsync($"/v1/tenants/{tenant}/sso", Configuration());
        var invited = await stack.PostAsync($"/v1/tenants/{tenant}/members", new { email = "lin@invited.example", role = "admin" });
        Assert.Equal("invited", (string)invited["member"]!["status"]!);

        issuer.SignedIn = new TestPerson("Lin@Invited.example");
        var session = await SignInAsync(tenant, HttpStatusCode.OK);
        Assert.Equal(("active", "admin"), ((string)session["member"]!["status"]!, (string)session["member"]!["role"]!));
        Assert.NotEmpty((string)session["id_token"]!);

        // A session like any other: the auth service resolves it with the member's role.
        var resolved = await stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = (string)session["token"]! });
        Assert.Equal((tenant, "admin"), (resolved.TenantId, resolved.Role));

        // The code is good once.
        var (code, verifier) = await issuer.AuthorizeAsync(RedirectUri);
        await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/sso/sign-in", Body(tenant, code, verifier)), HttpStatusCode.OK);
        await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/sso/sign-in", Body(tenant, code, verifier)), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task OnlyThisTenantsPeopleGetIn()
    {
        var tenant = (string)(await stack.CreateTenantAsync("sso-join"))["tenant_id"]!;
        var other = (string)(await stack.CreateTenantAsync("sso-elsewhere"))["tenant_id"]!;
        await stack.PutAsync($"/v1/tenants/{tenant}/sso", Configuration(joinRole: "viewer", joinDomains: ["join.example"]));
        await stack.SignedInMemberAsync(other, "ada@elsewhere.example", "owner");

        // A person of an allowed domain joins as a viewer on the first sign-in.
        issuer.SignedIn = new TestPerson("new.person@join.example");
        var joined = await SignInAsync(tenant, HttpStatusCode.OK);
        Assert.Equal(("viewer", tenant), ((string)joined["member"]!["role"]!, (string)joined["member"]!["tenant_id"]!));

        // Another domain, another tenant's member, an unverified e-mail: refused, and nobody learns who is a member where.
        issuer.SignedIn = new TestPerson("stranger@other.example");
        var stranger = await SignInAsync(tenant, HttpStatusCode.Forbidden);
        issuer.SignedIn = new TestPerson("ada@elsewhere.example");
        var elsewhere = await SignInAsync(tenant, HttpStatusCode.Forbidden);
        Assert.Equal(((string)stranger["title"]!, "Not a member"), ((string)elsewhere["title"]!, "Not a member"));
        issuer.SignedIn = new TestPerson("unverified@join.example", EmailVerified: false);
        Assert.Contains("not verified", (string)(await SignInAsync(tenant, HttpStatusCode.Unauthorized))["detail"]!, StringComparison.Ordinal);

        var members = (await stack.GetAsync($"/v1/tenants/{tenant}/members"))["members"]!.AsArray().Select(m => (string)m!["email"]!);
        Assert.Equal(["new.person@join.example"], members);
    }

    [Fact]
    public async Task ForgedTokensAndStolenCodesAreRefused()
    {
        var tenant = (string)(await stack.CreateTenantAsync("sso-forged"))["tenant_id"]!;
        await stack.PutAsync($"/v1/tenants/{tenant}/sso", Configuration());
        await stack.PostAsync($"/v1/tenants/{tenant}/members", new { email = "eve@forged.example", role = "owner" });
        issuer.SignedIn = new TestPerson("eve@forged.example");

        try
        {
            // Signed with a key the provider never published.
            issuer.SignWithRogueKey = true;
            Assert.Contains("ID token was refused", (string)(await SignInAsync(tenant, HttpStatusCode.Unauthorized))["detail"]!, StringComparison.Ordinal);
            issuer.SignWithRogueKey = false;

            // Issued for another client.
            issuer.Audience = "some-other-app";
            Assert.Contains("ID token was refused", (string)(await SignInAsync(tenant, HttpStatusCode.Unauthorized))["detail"]!, StringComparison.Ordinal);
            issuer.Audience = null;
        }
        finally
        {
            (issuer.SignWithRogueKey, issuer.Audience) = (false, null);
        }

        // A code without its PKCE verifier (intercepted on the way back) is worthless.
        var (code, _) = await issuer.AuthorizeAsync(RedirectUri);
        var stolen = await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/sso/sign-in", Body(tenant, code, "a-guessed-verifier-0123456789-0123456789")), HttpStatusCode.Unauthorized);
        Assert.Contains("invalid_grant", (string)stolen["detail"]!, StringComparison.Ordinal);

        // The same provider's code, handed in for a tenant that configured no sign-on, or another one's: 404.
        var (again, verifier) = await issuer.AuthorizeAsync(RedirectUri);
        var bare = (string)(await stack.CreateTenantAsync("sso-none"))["tenant_id"]!;
        await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/sso/sign-in", Body(bare, again, verifier)), HttpStatusCode.NotFound);

        // Still nobody signed in as eve, and the honest path works.
        Assert.Equal("invited", (string)(await stack.GetAsync($"/v1/tenants/{tenant}/members"))["members"]![0]!["status"]!);
        await SignInAsync(tenant, HttpStatusCode.OK);
    }

    private object Configuration(string? joinRole = null, string[]? joinDomains = null) =>
        new { authority = issuer.Authority, client_id = issuer.ClientId, client_secret = issuer.ClientSecret, join_role = joinRole, join_domains = joinDomains };

    private static object Body(string tenant, string code, string verifier) =>
        new { tenant_id = tenant, code, code_verifier = verifier, redirect_uri = RedirectUri };

    /// <summary>The code flow as the console runs it: authorize at the provider, hand the code and verifier to the control plane.</summary>
    private async Task<JsonObject> SignInAsync(string tenant, HttpStatusCode expected)
    {
        var (code, verifier) = await issuer.AuthorizeAsync(RedirectUri);
        return await ControlPlaneStack.ReadAsync(await stack.ControlPlaneAs(null).PostAsJsonAsync("/v1/auth/sso/sign-in", Body(tenant, code, verifier)), expected);
    }
}
