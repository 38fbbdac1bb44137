using Microsoft.Extensions.DependencyInjection;
using Tokage.ApiKeys;
using Tokage.Contracts.V1;

namespace Microsoft.Extensions.Hosting;

public static class ApiKeyExtensions
{
    /// <summary>
    /// <see cref="IApiKeyResolver"/> for services that take API keys: the auth service's gRPC endpoint
    /// (service discovery: <c>http://_grpc.{authService}</c>, or <c>Tokage:ApiKeys:AuthAddress</c>), a short-lived
    /// LRU, and Redis invalidations (needs <c>AddRedisClient</c>).
    /// </summary>
    public static void AddApiKeyResolver(this IHostApplicationBuilder builder, string authService = "auth")
    {
        builder.Services.AddOptions<ApiKeyClientOptions>().BindConfiguration(ApiKeyClientOptions.SectionName);
        var address = builder.Configuration[$"{ApiKeyClientOptions.SectionName}:AuthAddress"] ?? $"http://_grpc.{authService}";
        builder.Services.AddGrpcClient<AuthService.AuthServiceClient>(o => o.Address = new Uri(address));
        builder.Services.AddSingleton<CachingApiKeyResolver>();
        builder.Services.AddSingleton<IApiKeyResolver>(sp => sp.GetRequiredService<CachingApiKeyResolver>());
        builder.Services.AddHostedService<ApiKeyInvalidationListener>();
    }
}
