using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Tokage.ApiKeys;
using Tokage.Contracts.V1;

namespace Tokage.ControlPlane.Tests;

[Collection(ControlPlaneCollection.Name)]
public sealed class KeyLifecycleTests(ControlPlaneStack stack)
{
    // Longer than any wait below: only the Redis invalidation can make these callers forget a key in time.
    private static readonly TimeSpan LongCallerTtl = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task ANewTenantsKeyResolvesToItAndItsSecretIsNeverShownAgain()
    {
        var created = await stack.CreateTenantAsync("lifecycle-acme");
        var key = (string)created["api_key"]!;
        Assert.Matches("^tok_live_[0-9A-Za-z]{40}$", key);
        Assert.Equal(ApiKeyFormat.VisiblePrefix(key), (string)created["api_key_prefix"]!);

        var resolved = await stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = key });
        Assert.Equal((string)created["tenant_id"]!, resolved.TenantId);
        Assert.Equal("lifecycle-acme", resolved.TenantName);
        Assert.Equal(["ingest", "read"], resolved.Scopes);
        Assert.Equal((1000u, 2000u), (resolved.RateLimit.EventsPerSecond, resolved.RateLimit.Burst));
        Assert.False(resolved.TestMode);

        using var listing = await stack.Admin.GetAsync($"/v1/tenants/{created["tenant_id"]}/keys");
        var text = await listing.Content.ReadAsStringAsync();
        Assert.DoesNotContain(key[ApiKeyFormat.LivePrefix.Length..], text, StringComparison.Ordinal);
        var listed = JsonNode.Parse(text)!["keys"]![0]!;
        Assert.Equal(ApiKeyFormat.VisiblePrefix(key), (string)listed["prefix"]!);
        Assert.Equal("active", (string)listed["status"]!);

        // The lookup recorded the use.
        var used = (await stack.GetAsync($"/v1/tenants/{created["tenant_id"]}/keys"))["keys"]![0]!;
        Assert.NotNull(used["last_used_at"]);

        var test = await stack.CreateTenantAsync("lifecycle-sandbox", testMode: true);
        Assert.Matches("^tok_test_[0-9A-Za-z]{40}$", (string)test["api_key"]!);
        Assert.True((await stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = (string)test["api_key"]! })).TestMode);
    }

    [Fact]
    public async Task AWrongOrRevokedKeyIsRefusedWithOneMessage()
    {
        var created = await stack.CreateTenantAsync("lifecycle-revoke");
        var tenantId = (string)created["tenant_id"]!;
        var key = (string)created["api_key"]!;
        var caller = await stack.NewCallerResolverAsync(LongCallerTtl);
        Assert.Equal(KeyResolutionStatus.Valid, (await caller.ResolveAsync(key)).Status);

        var revoked = await stack.PostAsync($"/v1/tenants/{tenantId}/keys/{created["api_key_id"]}/revoke", new { });
        Assert.Equal("revoked", (string)revoked["status"]!);

        // Every cache forgets it within 5 s: the auth service's Redis entry becomes a tombstone, the caller's LRU told.
        var took = await ControlPlaneStack.EventuallyAsync(async () => (await caller.ResolveAsync(key)).Status == KeyResolutionStatus.Invalid,
            TimeSpan.FromSeconds(5), "the revoked key refused by a caller with a warm cache");
        Assert.True(took < TimeSpan.FromSeconds(5));

        var messages = new List<string>();
        foreach (var bad in (string[])[key, ApiKeyFormat.Generate(testMode: false), "tok_live_short", "not a key", ""])
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = bad }).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
            messages.Add(error.Status.Detail);
        }

        Assert.Single(messages.Distinct());
    }

    [Fact]
    public async Task ARotatedKeyWorksBesideItsReplacementUntilTheGraceEnds()
    {
        var created = await stack.CreateTenantAsync("lifecycle-rotate");
        var tenantId = (string)created["tenant_id"]!;
        var old = (string)created["api_key"]!;
        var caller = await stack.NewCallerResolverAsync(LongCallerTtl);
        Assert.Equal(KeyResolutionStatus.Valid, (await caller.ResolveAsync(old)).Status);

        var rotated = await stack.PostAsync($"/v1/tenants/{tenantId}/keys/{created["api_key_id"]}/rotate", new { grace_seconds = 3 });
        var replacement = (string)rotated["key"]!["api_key"]!;
        Assert.NotEqual(old, replacement);
        Assert.Equal("rotating", (string)rotated["previous"]!["status"]!);
        Assert.Equal(["ingest", "read"], rotated["key"]!["scopes"]!.AsArray().Select(s => (string)s!));

        Assert.Equal(KeyResolutionStatus.Valid, (await caller.ResolveAsync(old)).Status);
        Assert.Equal(KeyResolutionStatus.Valid, (await caller.ResolveAsync(replacement)).Status);
        var oldIdentity = (await caller.ResolveAsync(old)).Identity!;
        Assert.NotNull(oldIdentity.ExpiresAt);

        await ControlPlaneStack.EventuallyAsync(async () => (await caller.ResolveAsync(old)).Status == KeyResolutionStatus.Invalid,
            TimeSpan.FromSeconds(8), "the old key refused after its grace period");
        Assert.Equal(KeyResolutionStatus.Valid, (await caller.ResolveAsync(replacement)).Status);

        using var again = await stack.Admin.PostAsJsonAsync($"/v1/tenants/{tenantId}/keys/{created["api_key_id"]}/rotate", new { });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task ASuspendedTenantsKeysAreDeniedAndComeBackOnActivation()
    {
        var created = await stack.CreateTenantAsync("lifecycle-suspend");
        var key = (string)created["api_key"]!;
        var caller = await stack.NewCallerResolverAsync(LongCallerTtl);
        Assert.Equal(KeyResolutionStatus.Valid, (await caller.ResolveAsync(key)).Status);

        Assert.Equal("suspended", (string)(await stack.PostAsync($"/v1/tenants/lifecycle-suspend/suspend", new { }))["status"]!);
        await ControlPlaneStack.EventuallyAsync(async () => (await caller.ResolveAsync(key)).Status == KeyResolutionStatus.Suspended,
            TimeSpan.FromSeconds(5), "the suspended tenant's key denied");
        var denied = await Assert.ThrowsAsync<RpcException>(() => stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = key }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);

        await stack.PostAsync($"/v1/tenants/lifecycle-suspend/activate", new { });
        await ControlPlaneStack.EventuallyAsync(async () => (await caller.ResolveAsync(key)).Status == KeyResolutionStatus.Valid,
            TimeSpan.FromSeconds(5), "the reactivated tenant's key accepted");
    }

    [Fact]
    public async Task KeysWithChosenScopesAndTheRateLimitTravelToTheCaller()
    {
        var created = await stack.PostAsync("/v1/tenants", new { name = "lifecycle-limits", rate_limit = new { events_per_second = 50, burst = 100 }, create_key = false });
        Assert.Null(created["api_key"]);
        var key = await stack.PostAsync("/v1/tenants/lifecycle-limits/keys", new { name = "reader", scopes = new[] { "read" } });

        var identity = (await (await stack.NewCallerResolverAsync(LongCallerTtl)).ResolveAsync((string)key["api_key"]!)).Identity!;
        Assert.Equal(["read"], identity.Scopes);
        Assert.False(identity.HasScope(ApiKeyScopes.Ingest));
        Assert.Equal((50, 100), (identity.EventsPerSecond, identity.Burst));
    }

    [Fact]
    public async Task TheAdminApiRefusesWithoutItsTokenAndNamesWhatIsWrong()
    {
        using var anonymous = new HttpClient { BaseAddress = stack.ControlPlane.HttpUri };
        using var none = await anonymous.GetAsync("/v1/tenants");
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        anonymous.DefaultRequestHeaders.Authorization = new("Bearer", "not-the-admin-token");
        using var wrong = await anonymous.GetAsync("/v1/tenants");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        using var badName = await stack.Admin.PostAsJsonAsync("/v1/tenants", new { name = "Not Valid!" });
        Assert.Equal(HttpStatusCode.BadRequest, badName.StatusCode);
        Assert.Contains("name", (JsonNode.Parse(await badName.Content.ReadAsStringAsync())!["errors"]!.AsObject()).Select(e => e.Key));

        await stack.CreateTenantAsync("lifecycle-twice");
        using var badScopes = await stack.Admin.PostAsJsonAsync("/v1/tenants/lifecycle-twice/keys", new { scopes = new[] { "everything" } });
        Assert.Equal(HttpStatusCode.BadRequest, badScopes.StatusCode);
        Assert.Contains("scopes", await badScopes.Content.ReadAsStringAsync());

        using var twice = await stack.Admin.PostAsJsonAsync("/v1/tenants", new { name = "lifecycle-twice" });
        Assert.Equal(HttpStatusCode.Conflict, twice.StatusCode);

        using var missing = await stack.Admin.GetAsync("/v1/tenants/no-such-tenant");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        using var limit = await stack.Admin.PostAsJsonAsync("/v1/tenants", new { name = "lifecycle-limit", rate_limit = new { events_per_second = 10, burst = 5 } });
        Assert.Equal(HttpStatusCode.BadRequest, limit.StatusCode);
    }

    [Fact]
    public async Task ServicesReadTenantsOverGrpcWithTheAdminToken()
    {
        var created = await stack.CreateTenantAsync("lifecycle-grpc");
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(stack.ControlPlane.GrpcUri);
        var client = new ControlPlaneService.ControlPlaneServiceClient(channel);
        var admin = new Metadata { { "authorization", $"Bearer {ControlPlaneStack.AdminToken}" } };

        var byName = await client.GetTenantAsync(new GetTenantRequest { Tenant = "lifecycle-grpc" }, admin);
        Assert.Equal((string)created["tenant_id"]!, byName.Id);
        Assert.Equal("active", byName.Status);
        Assert.Equal(1000u, byName.RateLimit.EventsPerSecond);
        Assert.Contains((await client.ListTenantsAsync(new ListTenantsRequest(), admin)).Tenants, t => t.Name == "lifecycle-grpc");

        var missing = await Assert.ThrowsAsync<RpcException>(() => client.GetTenantAsync(new GetTenantRequest { Tenant = "no-such" }, admin).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        var anonymous = await Assert.ThrowsAsync<RpcException>(() => client.ListTenantsAsync(new ListTenantsRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
    }

    [Fact]
    public async Task UsersTeamsAndProjects()
    {
        await stack.CreateTenantAsync("directory-acme");
        await stack.PostAsync("/v1/tenants/directory-acme/users", new { user_id = "u-42", email = "ada@example.com" });
        await stack.PostAsync("/v1/tenants/directory-acme/users", new { user_id = "u-7" });
        await stack.PostAsync("/v1/tenants/directory-acme/teams", new { name = "cx" });
        using (var member = await stack.Admin.PostAsJsonAsync("/v1/tenants/directory-acme/teams/cx/members", new { user_id = "u-42" }))
        {
            Assert.Equal(HttpStatusCode.NoContent, member.StatusCode);
        }

        await stack.PostAsync("/v1/tenants/directory-acme/projects", new { name = "helpdesk", applications = new[] { "support-bot" } });

        var teams = await stack.GetAsync("/v1/tenants/directory-acme/teams");
        Assert.Equal(["u-42"], teams["teams"]![0]!["members"]!.AsArray().Select(m => (string)m!));
        var users = await stack.GetAsync("/v1/tenants/directory-acme/users");
        Assert.Equal(["u-42", "u-7"], users["users"]!.AsArray().Select(u => (string)u!["user_id"]!));
        var projects = await stack.GetAsync("/v1/tenants/directory-acme/projects");
        Assert.Equal("support-bot", (string)projects["projects"]![0]!["applications"]![0]!);

        using var duplicate = await stack.Admin.PostAsJsonAsync("/v1/tenants/directory-acme/teams", new { name = "cx" });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        using var unknownUser = await stack.Admin.PostAsJsonAsync("/v1/tenants/directory-acme/teams/cx/members", new { user_id = "nobody" });
        Assert.Equal(HttpStatusCode.NotFound, unknownUser.StatusCode);
        using (var removed = await stack.Admin.DeleteAsync("/v1/tenants/directory-acme/teams/cx/members/u-42"))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        Assert.Empty((await stack.GetAsync("/v1/tenants/directory-acme/teams"))["teams"]![0]!["members"]!.AsArray());
    }
}
