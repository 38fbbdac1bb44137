using System.Text.Json;
using Grpc.Core;
using StackExchange.Redis;
using Tokage.ApiKeys;
using Tokage.Contracts.V1;

namespace Tokage.ControlPlane.Tests;

/// <summary>
/// The auth service's key cache in Redis is not a way in: an entry it did not sign for that very key resolves nothing,
/// and a revoked key's tombstone cannot be overwritten by an answer read before the revocation.
/// </summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class KeyCacheTests(ControlPlaneStack stack)
{
    [Fact]
    public async Task WhoeverCanWriteToRedisCannotForgeAWorkingKey()
    {
        var created = await stack.CreateTenantAsync("cache-forgery");
        var key = (string)created["api_key"]!;
        Assert.Equal((string)created["tenant_id"]!, (await stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = key })).TenantId);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(stack.Redis.ConnectionString);
        var db = redis.GetDatabase();
        var genuine = (string)(await db.StringGetAsync(ApiKeyCache.EntryKey(ApiKeyFormat.HashHex(key))))!;

        // An entry written by hand, in the cache's own layout, for a key nobody issued: unsigned, then with the
        // signature of the genuine key's entry copied over.
        var forgedKey = ApiKeyFormat.Generate(testMode: false);
        var entry = JsonSerializer.Serialize(new
        {
            Found = true, KeyId = Guid.NewGuid().ToString(), TenantId = (string)created["tenant_id"]!, TenantName = "cache-forgery",
            TenantStatus = "Active", Scopes = new[] { "ingest", "read" }, EventsPerSecond = 1000, Burst = 1000,
        });
        foreach (var forged in (string[])[entry, genuine])
        {
            await db.StringSetAsync(ApiKeyCache.EntryKey(ApiKeyFormat.HashHex(forgedKey)), forged, TimeSpan.FromMinutes(1));
            var refused = await Assert.ThrowsAsync<RpcException>(() => stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = forgedKey }).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        }

        Assert.Equal((string)created["tenant_id"]!, (await stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = key })).TenantId);
    }

    [Fact]
    public async Task ARevokedKeysTombstoneIsNotOverwrittenByAResolution()
    {
        var created = await stack.CreateTenantAsync("cache-tombstone");
        var key = (string)created["api_key"]!;
        await stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = key });
        await using var redis = await ConnectionMultiplexer.ConnectAsync(stack.Redis.ConnectionString);
        var entryKey = ApiKeyCache.EntryKey(ApiKeyFormat.HashHex(key));
        Assert.StartsWith("{", (string)(await redis.GetDatabase().StringGetAsync(entryKey))!);

        await stack.PostAsync($"/v1/tenants/{created["tenant_id"]}/keys/{created["api_key_id"]}/revoke", new { });

        // Resolutions after the revocation go to PostgreSQL and cache nothing while the tombstone lives: an auth
        // replica that read the key before the revocation committed cannot cache it as valid afterwards either.
        for (var i = 0; i < 3; i++)
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = key }).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
            Assert.Equal(ApiKeyCache.Tombstone, (string?)await redis.GetDatabase().StringGetAsync(entryKey));
        }

        var ttl = await redis.GetDatabase().KeyTimeToLiveAsync(entryKey);
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(30), ApiKeyCache.TombstoneTtl);
    }
}
