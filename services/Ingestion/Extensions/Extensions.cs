using Tokage.Ingestion.Ingest;
using Tokage.Ingestion.Otlp;
using Tokage.Ingestion.Validation;

namespace Tokage.Ingestion.Extensions;

internal static class Extensions
{
    /// <summary>The engines this service talks to (each with its health check, so /health means ready), key resolution, and the ingest pipeline.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient("redis");
        builder.AddEventLog("events");
        // Redis holds the shared rate-limit buckets and OTLP's usage ancestry: while it is away the configured fallback
        // limits (native events are still accepted) and OTLP answers a retryable 503, so readiness leaves it out unless
        // the limiter fails closed. A Redis Streams event log has its own (required) check.
        if (builder.Configuration.GetValue<RateLimitFallback>($"{IngestOptions.SectionName}:{nameof(IngestOptions.RateLimitWhenRedisDown)}") != RateLimitFallback.FailClosed)
        {
            builder.MarkHealthCheckOptional("StackExchange.Redis");
        }
        builder.AddApiKeyResolver();

        builder.Services.AddOptions<IngestOptions>().BindConfiguration(IngestOptions.SectionName);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<EventValidator>();
        builder.Services.AddSingleton<TenantRateLimiter>();
        builder.Services.AddSingleton<IngestPipeline>();
        builder.Services.AddSingleton(sp => new UsageAncestry(sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>()));
        builder.Services.AddSingleton<OtlpReportWriter>();
        builder.Services.AddSingleton<OtlpIngest>();
        builder.Services.AddProblemDetails();

        // A batch message may be as large as a batch body: the configured limit, not the default.
        builder.Services.AddGrpc();
        builder.Services.AddOptions<global::Grpc.AspNetCore.Server.GrpcServiceOptions>()
            .Configure<Microsoft.Extensions.Options.IOptions<IngestOptions>>((grpc, ingest) => grpc.MaxReceiveMessageSize = ingest.Value.MaxBatchBytes);
    }
}
