using Tokage.ApiKeys;

namespace Tokage.Auth.Keys;

/// <summary>
/// SHA-256 of the key → Redis → PostgreSQL. Redis failing means PostgreSQL answers; PostgreSQL failing too means
/// <see cref="KeyResolutionStatus.Unavailable"/>: fail closed, never a guess.
/// </summary>
internal sealed class KeyResolver(KeyCache cache, KeyStore store, TimeProvider time, ILogger<KeyResolver> logger)
{
    public async Task<KeyResolution> ResolveAsync(string? key, CancellationToken cancellationToken)
    {
        if (!ApiKeyFormat.LooksValid(key))
        {
            return KeyResolution.Invalid;
        }

        var hash = ApiKeyFormat.Hash(key!);
        var hashHex = Convert.ToHexStringLower(hash);
        var cacheWorks = true;
        try
        {
            if (await cache.GetAsync(hashHex, cancellationToken) is { } cached)
            {
                return Evaluate(cached);
            }
        }
        catch (KeyCache.CacheUnavailable)
        {
            cacheWorks = false;
        }

        StoredKey? stored;
        try
        {
            stored = await store.FindAsync(hash, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "PostgreSQL could not resolve a key{Cache}; refusing.", cacheWorks ? "" : " and Redis is unavailable");
            return KeyResolution.Unavailable;
        }

        var entry = stored is null ? CachedKey.NotFound : CachedKey.From(stored);
        if (cacheWorks)
        {
            await cache.TrySetAsync(hashHex, entry, cancellationToken);
        }

        return Evaluate(entry);
    }

    private KeyResolution Evaluate(CachedKey entry)
    {
        if (!entry.Found || entry.Revoked
            || (entry.ExpiresAtUnixMs is { } expires && expires <= time.GetUtcNow().ToUnixTimeMilliseconds()))
        {
            return KeyResolution.Invalid;
        }

        if (!string.Equals(entry.TenantStatus, "Active", StringComparison.OrdinalIgnoreCase))
        {
            return KeyResolution.Suspended;
        }

        return KeyResolution.Valid(new ApiKeyIdentity(
            entry.TenantId!, entry.TenantName!, entry.KeyId!, entry.Scopes ?? [], entry.EventsPerSecond, entry.Burst, entry.TestMode,
            entry.ExpiresAtUnixMs is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null, entry.Role, entry.MemberId,
            entry.ScopeKind, entry.ScopeValue));
    }
}
