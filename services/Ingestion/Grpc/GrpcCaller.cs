using Grpc.Core;
using Tokage.ApiKeys;

namespace Tokage.Ingestion.Grpc;

/// <summary>The API key of a gRPC call (<c>authorization: Bearer …</c> or <c>x-api-key</c> metadata), as status codes when it does not let the call in.</summary>
internal static class GrpcCaller
{
    public static async Task<ApiKeyIdentity> AuthenticateAsync(IApiKeyResolver keys, ServerCallContext context, string scope)
    {
        var http = context.GetHttpContext();
        var resolution = await keys.ResolveAsync(ApiKeyHttp.ReadKey(http.Request), context.CancellationToken);
        return resolution.Status switch
        {
            KeyResolutionStatus.Valid when resolution.Identity!.HasScope(scope) => resolution.Identity,
            KeyResolutionStatus.Valid => throw new RpcException(new Status(StatusCode.PermissionDenied, $"This API key does not have the '{scope}' scope.")),
            KeyResolutionStatus.Suspended => throw new RpcException(new Status(StatusCode.PermissionDenied, "This tenant is suspended.")),
            KeyResolutionStatus.Unavailable => throw Retryable(StatusCode.Unavailable, "API keys cannot be checked right now; nothing was accepted.", ApiKeyHttp.RetryAfterSeconds),
            _ => throw new RpcException(new Status(StatusCode.Unauthenticated, "A valid API key is required ('authorization: Bearer tok_live_…' metadata).")),
        };
    }

    public static RpcException Retryable(StatusCode code, string message, int retryAfterSeconds) =>
        new(new Status(code, message), new Metadata { { "retry-after", Math.Max(1, retryAfterSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture) } });
}
