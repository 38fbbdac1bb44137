using Grpc.Core;
using Tokage.ApiKeys;
using Tokage.Auth.Keys;
using Tokage.Contracts.V1;

namespace Tokage.Auth.Grpc;

/// <summary><c>tokage.v1.AuthService</c>: one message for every kind of bad key, so callers learn nothing of which part was wrong.</summary>
internal sealed class AuthGrpcService(KeyResolver resolver) : AuthService.AuthServiceBase
{
    public override async Task<ResolveKeyResponse> ResolveKey(ResolveKeyRequest request, ServerCallContext context)
    {
        var resolution = await resolver.ResolveAsync(request.Key, context.CancellationToken);
        return resolution.Status switch
        {
            KeyResolutionStatus.Valid => ToResponse(resolution.Identity!),
            KeyResolutionStatus.Suspended => throw new RpcException(new Status(StatusCode.PermissionDenied, "The tenant of this API key is suspended.")),
            KeyResolutionStatus.Unavailable => throw new RpcException(new Status(StatusCode.Unavailable, "API keys cannot be resolved right now.")),
            _ => throw new RpcException(new Status(StatusCode.Unauthenticated, "Invalid API key.")),
        };
    }

    private static ResolveKeyResponse ToResponse(ApiKeyIdentity identity) => new()
    {
        TenantId = identity.TenantId,
        TenantName = identity.TenantName,
        KeyId = identity.KeyId,
        Scopes = { identity.Scopes },
        RateLimit = new RateLimit { EventsPerSecond = (uint)identity.EventsPerSecond, Burst = (uint)identity.Burst },
        TestMode = identity.TestMode,
        ExpiresAtUnixMs = identity.ExpiresAt?.ToUnixTimeMilliseconds() ?? 0,
        Role = identity.Role ?? "",
        MemberId = identity.MemberId ?? "",
        ScopeKind = identity.ScopeKind ?? "",
        ScopeValue = identity.ScopeValue ?? "",
    };
}
