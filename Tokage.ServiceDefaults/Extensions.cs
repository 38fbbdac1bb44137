using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Aspire service defaults shared by every Tokage service: OpenTelemetry, health checks,
/// service discovery and the standard HTTP resilience handler.
/// </summary>
public static class Extensions
{
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";
    public const string MetricsEndpointPath = "/metrics";
    public const string OpenApiEndpointPath = "/openapi/{documentName}.json";

    /// <summary>Tag on health checks that only say the process is alive (served at /alive).</summary>
    public const string LiveTag = "live";

    /// <summary>
    /// Tag on health checks of dependencies the service can do without for a while (it has a fallback): left out of
    /// readiness (/health and gRPC health), or a Redis outage would take every pod out of its
    /// Service before the fallback could serve.
    /// </summary>
    public const string OptionalTag = "optional";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        // Every Tokage service speaks gRPC, and answers grpc.health.v1 from the same checks as /health.
        builder.Services.AddGrpc();
        builder.Services.AddGrpcHealthChecks(grpc => grpc.Services.Map("", check => !check.Tags.Contains(OptionalTag)));

        // Each HTTP API describes itself at /openapi/v1.json (its minimal-API endpoints, with the JSON names it uses).
        builder.Services.AddOpenApi();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // A generic handler never sends a POST twice (every gRPC call and webhook is one): only the caller
            // knows whether a repeat is safe. Streaming clients remove the handler (see WithoutRequestTimeouts).
            http.AddStandardResilienceHandler(resilience => resilience.Retry.DisableForUnsafeHttpMethods());
            http.AddServiceDiscovery();
        });

        return builder;
    }

    /// <summary>
    /// For a client whose calls live as long as they need (a gRPC stream, a long poll): without the standard
    /// resilience handler, whose 30 s total timeout would cut such a call every 30 s. HTTP/2 keep-alive pings
    /// notice a dead connection instead, and the caller's own loop reconnects.
    /// </summary>
    public static IHttpClientBuilder WithoutRequestTimeouts(this IHttpClientBuilder client)
    {
        // Experimental in Microsoft.Extensions.Http.Resilience, and the one way to take off a handler that
        // ConfigureHttpClientDefaults put on every client; this is its only call site.
#pragma warning disable EXTEXP0001
        client.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        client.ConfigurePrimaryHttpMessageHandler(() => new System.Net.Http.SocketsHttpHandler
        {
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            KeepAlivePingPolicy = System.Net.Http.HttpKeepAlivePingPolicy.Always,
            EnableMultipleHttp2Connections = true,
        });
        return client;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("Tokage.*")
                // Beside the OTLP export: /metrics in Prometheus' text format, for scrapers and the synthetic monitor.
                .AddPrometheusExporter())
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddSource("Tokage.*")
                // Health probes run every few seconds; tracing them would drown the real traffic.
                .AddAspNetCoreInstrumentation(options => options.Filter = context =>
                    !context.Request.Path.StartsWithSegments(HealthEndpointPath)
                    && !context.Request.Path.StartsWithSegments(AlivenessEndpointPath)
                    && !context.Request.Path.StartsWithSegments(MetricsEndpointPath)
                    && !context.Request.Path.StartsWithSegments("/openapi"))
                .AddGrpcClientInstrumentation()
                .AddHttpClientInstrumentation());

        // Aspire injects OTEL_EXPORTER_OTLP_ENDPOINT; without it nothing is exported.
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);

        // Readiness is logged when it changes (HealthTransitions), not as an error per failed probe.
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService", LogLevel.None);
        builder.Services.AddSingleton<IHealthCheckPublisher, HealthTransitions>();
        builder.Services.Configure<HealthCheckPublisherOptions>(options =>
        {
            options.Delay = TimeSpan.FromSeconds(1);
            options.Period = TimeSpan.FromSeconds(10);
        });
        return builder;
    }

    /// <summary>
    /// Marks the health checks registered under <paramref name="checkName"/> as optional for readiness (see
    /// <see cref="OptionalTag"/>); call it where the service has a fallback for that dependency.
    /// </summary>
    public static TBuilder MarkHealthCheckOptional<TBuilder>(this TBuilder builder, string checkName) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.Configure<HealthCheckServiceOptions>(options =>
        {
            foreach (var registration in options.Registrations.Where(r => r.Name == checkName))
            {
                registration.Tags.Add(OptionalTag);
            }
        });
        return builder;
    }

    /// <summary>/health: every check but the optional ones must pass (ready). /alive: only the liveness checks.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath, new HealthCheckOptions
        {
            Predicate = check => !check.Tags.Contains(OptionalTag),
        });
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
        });
        app.MapGrpcHealthChecksService();
        app.MapPrometheusScrapingEndpoint(MetricsEndpointPath);
        app.MapOpenApi(OpenApiEndpointPath);
        return app;
    }
}
