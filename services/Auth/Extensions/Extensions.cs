using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tokage.Auth.Keys;

namespace Tokage.Auth.Extensions;

internal static class Extensions
{
    /// <summary>The engines this service talks to, each with its health check (so /health means ready), and key resolution.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient("redis");
        // The key cache: without Redis, keys resolve from PostgreSQL, so Redis is not part of readiness.
        builder.MarkHealthCheckOptional("StackExchange.Redis");
        builder.AddNpgsqlDataSource("tokage");
        builder.Services.AddHealthChecks().AddDatabaseSchemaCheck();

        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.SectionName)
            .Validate(o => o.CacheSigningKey.Length >= AuthOptions.MinimumSigningKeyLength,
                $"{AuthOptions.SectionName}:CacheSigningKey must be set ({AuthOptions.MinimumSigningKeyLength}+ characters): the key cache in Redis is signed with it " +
                "(the AppHost generates one; deployments set Tokage__Auth__CacheSigningKey from a secret only the auth service has).")
            .Validate(o => o.CacheTtl < Tokage.ApiKeys.ApiKeyCache.TombstoneTtl,
                $"{AuthOptions.SectionName}:CacheTtl must be shorter than a revocation's tombstone ({Tokage.ApiKeys.ApiKeyCache.TombstoneTtl.TotalSeconds:0} s).")
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<KeyCache>();
        builder.Services.AddSingleton<KeyStore>();
        builder.Services.AddSingleton<KeyResolver>();
        builder.Services.AddHealthChecks().AddCheck<KeyStoreHealthCheck>("key-store", tags: ["ready"]);
    }

    private sealed class KeyStoreHealthCheck(KeyStore store) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                return await store.IsReadyAsync(cancellationToken)
                    ? HealthCheckResult.Healthy()
                    : HealthCheckResult.Unhealthy("The key lookup function is missing: the control plane has not migrated the database yet.");
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return HealthCheckResult.Unhealthy("PostgreSQL is unreachable.", ex);
            }
        }
    }
}
