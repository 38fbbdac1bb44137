using Tokage.ApiKeys;
using Tokage.ControlPlane.Data;

namespace Tokage.ControlPlane.Keys;

/// <summary>Creates keys: the secret exists only in the returned value; the database gets its hash and prefix.</summary>
internal static class KeyIssuer
{
    public static readonly string[] DefaultScopes = [ApiKeyScopes.Ingest, ApiKeyScopes.Read];

    public static (ApiKey Key, string Secret) Issue(Tenant tenant, string name, string[] scopes, DateTimeOffset? expiresAt, DateTimeOffset now)
    {
        var secret = ApiKeyFormat.Generate(tenant.TestMode);
        var key = new ApiKey
        {
            Id = Guid.CreateVersion7(),
            TenantId = tenant.Id,
            Name = name,
            Prefix = ApiKeyFormat.VisiblePrefix(secret),
            SecretHash = ApiKeyFormat.Hash(secret),
            Scopes = scopes,
            CreatedAt = now,
            ExpiresAt = expiresAt,
        };
        return (key, secret);
    }
}
