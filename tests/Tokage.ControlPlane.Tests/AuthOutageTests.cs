using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Tokage.ApiKeys;
using Tokage.Contracts.V1;

namespace Tokage.ControlPlane.Tests;

/// <summary>Key resolution while its engines fail: Redis down → PostgreSQL answers; both down → refused, never accepted.</summary>
public sealed class AuthOutageTests(ControlPlaneStack stack) : IClassFixture<ControlPlaneStack>
{
    [Fact]
    public async Task WithRedisDownPostgresAnswersAndWithBothDownRequestsAreRefused()
    {
        var created = await stack.CreateTenantAsync("outage-acme");
        var key = (string)created["api_key"]!;
        var revoked = await stack.PostAsync("/v1/tenants/outage-acme/keys", new { name = "old" });
        await stack.PostAsync($"/v1/tenants/outage-acme/keys/{revoked["id"]}/revoke", new { });

        await stack.Redis.StopAsync();
        try
        {
            // Never cached and Redis gone: the database answers, for good and bad keys alike.
            var resolved = await stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = key });
            Assert.Equal((string)created["tenant_id"]!, resolved.TenantId);
            var refused = await Assert.ThrowsAsync<RpcException>(() =>
                stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = (string)revoked["api_key"]! }).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(resolved.TenantId, (await stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = key })).TenantId);
            }

            // Ready all the while: a load balancer keeps sending it requests it can answer.
            using (var http = new HttpClient { BaseAddress = stack.Auth.HttpUri })
            using (var health = await http.GetAsync("health"))
            {
                Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
            }

            await stack.Postgres.StopAsync();
            try
            {
                var unavailable = await Assert.ThrowsAsync<RpcException>(() =>
                    stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = key }).ResponseAsync);
                Assert.Equal(StatusCode.Unavailable, unavailable.StatusCode);

                // A caller refuses: 503 with Retry-After, and the refusal is not remembered.
                var caller = await stack.NewCallerResolverAsync(TimeSpan.FromMinutes(5));
                Assert.Equal(KeyResolutionStatus.Unavailable, (await caller.ResolveAsync(key)).Status);
                var context = new DefaultHttpContext();
                context.Request.Headers.Authorization = $"Bearer {key}";
                var (identity, refusal) = await caller.AuthenticateAsync(context, ApiKeyScopes.Ingest);
                Assert.Null(identity);
                Assert.Equal(StatusCodes.Status503ServiceUnavailable, Assert.IsAssignableFrom<IStatusCodeHttpResult>(refusal).StatusCode);
                Assert.Equal("5", context.Response.Headers.RetryAfter.ToString());
            }
            finally
            {
                await stack.Postgres.RestartAsync();
            }
        }
        finally
        {
            await stack.Redis.RestartAsync();
        }

        // Both back: the same key works again.
        var again = await stack.NewCallerResolverAsync(TimeSpan.FromMinutes(5));
        await ControlPlaneStack.EventuallyAsync(async () => (await again.ResolveAsync(key)).Status == KeyResolutionStatus.Valid,
            TimeSpan.FromSeconds(20), "the key accepted once PostgreSQL and Redis are back");
    }
}
