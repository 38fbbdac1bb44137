using System.Diagnostics.Metrics;
using BitFaster.Caching.Lru;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tokage.Contracts.V1;

namespace Tokage.ApiKeys;

/// <summary>Where callers of the auth service keep their answers, and how long they wait for one.</summary>
public sealed class ApiKeyClientOptions
{
    public const string SectionName = "Tokage:ApiKeys";

    /// <summary>
    /// How long an answer is reused without asking the auth service. Revocations also arrive over Redis
    /// pub/sub at once; this bound holds when such a message is missed, so keep it under 5 s.
    /// </summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(3);

    public int CacheCapacity { get; set; } = 10_000;

    /// <summary>The deadline of one call to the auth service; past it the request is refused (503).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);
}

public interface IApiKeyResolver
{
    ValueTask<KeyResolution> ResolveAsync(string? key, CancellationToken cancellationToken = default);
}

/// <summary>
/// The callers' resolver: an in-process LRU (keyed by the key's hash, entries live <see cref="ApiKeyClientOptions.CacheTtl"/>)
/// in front of the auth service's <c>ResolveKey</c>. Fail-closed: when the auth service cannot answer, the
/// answer is <see cref="KeyResolutionStatus.Unavailable"/>, never a guess; such answers are not cached.
/// </summary>
public sealed class CachingApiKeyResolver(
    AuthService.AuthServiceClient auth, IOptions<ApiKeyClientOptions> options, ILogger<CachingApiKeyResolver> logger) : IApiKeyResolver
{
    private static readonly Meter Meter = new("Tokage.ApiKeys");

    /// <summary>The callers' in-process cache: <c>tokage_apikeys_cache_lookups_total{result="hit"|"miss"}</c>.</summary>
    private static readonly Counter<long> CacheLookups = Meter.CreateCounter<long>("tokage.apikeys.cache.lookups", description: "Key resolutions answered by the caller's in-process cache (hit) or asked of auth (miss).");

    private readonly ConcurrentTLru<string, KeyResolution> cache = new(
        Environment.ProcessorCount, Math.Max(options.Value.CacheCapacity, 16), EqualityComparer<string>.Default, options.Value.CacheTtl);

    public async ValueTask<KeyResolution> ResolveAsync(string? key, CancellationToken cancellationToken = default)
    {
        if (!ApiKeyFormat.LooksValid(key))
        {
            return KeyResolution.Invalid;
        }

        var hash = ApiKeyFormat.HashHex(key!);
        if (cache.TryGet(hash, out var cached) && !IsExpired(cached))
        {
            CacheLookups.Add(1, new KeyValuePair<string, object?>("result", "hit"));
            return cached;
        }

        CacheLookups.Add(1, new KeyValuePair<string, object?>("result", "miss"));
        var resolution = await AskAuthAsync(key!, cancellationToken);
        if (resolution.Status != KeyResolutionStatus.Unavailable)
        {
            cache.AddOrUpdate(hash, resolution);
        }

        return resolution;
    }

    /// <summary>Forgets a key (by its hex SHA-256), e.g. on a revocation message.</summary>
    public void Invalidate(string hashHex) => cache.TryRemove(hashHex);

    private async Task<KeyResolution> AskAuthAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await auth.ResolveKeyAsync(
                new ResolveKeyRequest { Key = key },
                deadline: DateTime.UtcNow.Add(options.Value.Timeout),
                cancellationToken: cancellationToken);
            return KeyResolution.Valid(new ApiKeyIdentity(
                reply.TenantId,
                reply.TenantName,
                reply.KeyId,
                [.. reply.Scopes],
                (int)(reply.RateLimit?.EventsPerSecond ?? 0),
                (int)(reply.RateLimit?.Burst ?? 0),
                reply.TestMode,
                reply.ExpiresAtUnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(reply.ExpiresAtUnixMs) : null,
                reply.Role.Length > 0 ? reply.Role : null,
                reply.MemberId.Length > 0 ? reply.MemberId : null,
                reply.ScopeKind.Length > 0 ? reply.ScopeKind : null,
                reply.ScopeKind.Length > 0 ? reply.ScopeValue : null));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unauthenticated)
        {
            return KeyResolution.Invalid;
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.PermissionDenied)
        {
            return KeyResolution.Suspended;
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("The auth service could not resolve a key ({Status}: {Detail}); refusing the request.", ex.StatusCode, ex.Status.Detail);
            return KeyResolution.Unavailable;
        }
    }

    private static bool IsExpired(KeyResolution resolution) =>
        resolution.Identity?.ExpiresAt is { } expiresAt && expiresAt <= DateTimeOffset.UtcNow;
}
