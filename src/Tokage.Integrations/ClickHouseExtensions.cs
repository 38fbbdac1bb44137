using ClickHouse.Driver;
using ClickHouse.Driver.ADO;
using ClickHouse.Driver.Diagnostic;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Trace;
using Tokage.Integrations;

namespace Microsoft.Extensions.Hosting;

public sealed class ClickHouseSettings : IntegrationSettings
{
    /// <summary>ClickHouse settings sent with every query of this client (e.g. <c>max_execution_time</c>): limits a reader lives by.</summary>
    public Dictionary<string, string> QuerySettings { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// ClickHouse client integration over ClickHouse.Driver (HTTP interface): the same client talks to the
/// ClickHouse-local host, a ClickHouse server or ClickHouse Cloud.
/// </summary>
public static class ClickHouseExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="ClickHouseClient"/> for <c>ConnectionStrings:{connectionName}</c>
    /// (<c>Host=…;Port=8123;Protocol=http;Username=…;Password=…;Database=…</c>), options from
    /// <c>Tokage:ClickHouse</c>, a health check that pings the server, and the driver's tracing.
    /// </summary>
    public static void AddClickHouseClient(this IHostApplicationBuilder builder, string connectionName, Action<ClickHouseSettings>? configure = null)
    {
        var settings = IntegrationConfiguration.Bind(builder.Configuration, "ClickHouse", connectionName, configure);

        // The driver's own HttpClient: the standard resilience handler (30 s timeout, retries) that
        // service defaults put on factory clients is wrong for long queries and non-idempotent inserts.
        // Query parameters travel in the request body (multipart form) rather than the URL, so a long id list
        // (the processor asks for a whole batch) never meets a server's URL length limit.
        var connection = new ClickHouseConnectionStringBuilder(settings.ConnectionString!) { UseFormDataParameters = true };
        foreach (var (name, value) in settings.QuerySettings)
        {
            // The driver's own convention: set_<name> in the connection string is a setting on every request.
            connection[$"set_{name}"] = value;
        }

        builder.Services.AddSingleton(_ => new ClickHouseClient(connection.ToString()));

        if (!settings.DisableHealthChecks)
        {
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                $"clickhouse-{connectionName}",
                sp => new ClickHouseHealthCheck(sp.GetRequiredService<ClickHouseClient>()),
                HealthStatus.Unhealthy,
                tags: ["ready"],
                timeout: settings.HealthCheckTimeout));
        }

        if (!settings.DisableTracing)
        {
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddSource(ClickHouseDiagnosticsOptions.ActivitySourceName));
        }
    }

    private sealed class ClickHouseHealthCheck(ClickHouseClient client) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                return await client.PingAsync(cancellationToken: cancellationToken)
                    ? HealthCheckResult.Healthy()
                    : HealthCheckResult.Unhealthy("ClickHouse did not answer the ping.");
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return HealthCheckResult.Unhealthy("ClickHouse is unreachable.", ex);
            }
        }
    }
}
