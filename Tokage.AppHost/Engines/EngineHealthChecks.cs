using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Tokage.AppHost.Engines;

/// <summary>
/// Health checks the AppHost runs against engines so that <c>WaitFor</c> means "answers", not "started".
/// The connection string is resolved at check time, once the endpoints have been allocated.
/// </summary>
public static class EngineHealthChecks
{
    public static IResourceBuilder<T> WithConnectionHealthCheck<T>(
        this IResourceBuilder<T> resource,
        Func<string, CancellationToken, Task> probe)
        where T : IResourceWithConnectionString
    {
        var key = $"{resource.Resource.Name}-ready";
        resource.ApplicationBuilder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            key,
            _ => new ProbeHealthCheck(resource.Resource, probe),
            HealthStatus.Unhealthy,
            tags: null,
            timeout: TimeSpan.FromSeconds(10)));
        return resource.WithHealthCheck(key);
    }

    private sealed class ProbeHealthCheck(IResourceWithConnectionString resource, Func<string, CancellationToken, Task> probe) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                var connectionString = await resource.ConnectionStringExpression.GetValueAsync(cancellationToken)
                    ?? throw new InvalidOperationException($"'{resource.Name}' has no connection string yet.");
                await probe(connectionString, cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return HealthCheckResult.Unhealthy($"'{resource.Name}' does not answer yet: {ex.Message}", ex);
            }
        }
    }
}
