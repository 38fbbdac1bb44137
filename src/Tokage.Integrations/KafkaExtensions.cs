using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Trace;
using Tokage.Integrations;

namespace Microsoft.Extensions.Hosting;

public sealed class KafkaSettings : IntegrationSettings
{
    /// <summary>librdkafka properties (<c>Tokage:Kafka:Producer:…</c>), applied over the durable defaults.</summary>
    public Dictionary<string, string> Producer { get; set; } = [];
}

/// <summary>
/// Kafka/Redpanda client integration over Confluent.Kafka: a durable producer (acks=all, idempotent)
/// and a broker-metadata health check.
/// </summary>
public static class KafkaExtensions
{
    /// <summary>Activity source the event log's Kafka transport traces produce and consume with.</summary>
    public const string ActivitySourceName = "Tokage.Kafka";

    /// <summary>
    /// Registers a singleton <see cref="IProducer{TKey,TValue}"/> of string keys and byte[] values for
    /// <c>ConnectionStrings:{connectionName}</c> (the bootstrap servers, <c>host:port[,host:port]</c>).
    /// </summary>
    public static void AddKafkaProducer(this IHostApplicationBuilder builder, string connectionName, Action<KafkaSettings>? configure = null)
    {
        var settings = IntegrationConfiguration.Bind(builder.Configuration, "Kafka", connectionName, configure);
        var config = CreateProducerConfig(settings.ConnectionString!, settings.Producer);

        builder.Services.AddSingleton(_ => new ProducerBuilder<string, byte[]>(config).Build());

        if (!settings.DisableHealthChecks)
        {
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                $"kafka-{connectionName}",
                sp => new KafkaHealthCheck(sp.GetRequiredService<IProducer<string, byte[]>>(), settings.HealthCheckTimeout),
                HealthStatus.Unhealthy,
                tags: ["ready"],
                timeout: settings.HealthCheckTimeout));
        }

        if (!settings.DisableTracing)
        {
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddSource(ActivitySourceName));
        }
    }

    /// <summary>The producer configuration that makes an acknowledgement mean "durable": acks=all, idempotence on.</summary>
    public static ProducerConfig CreateProducerConfig(string bootstrapServers, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            CompressionType = CompressionType.Lz4,
            LingerMs = 5,
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string>())
        {
            config.Set(key, value);
        }

        return config;
    }

    private sealed class KafkaHealthCheck(IProducer<string, byte[]> producer, TimeSpan timeout) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                // Metadata comes from a broker: it proves the cluster answers on the producer's own connection.
                using var admin = new DependentAdminClientBuilder(producer.Handle).Build();
                var metadata = admin.GetMetadata(timeout);
                return Task.FromResult(metadata.Brokers.Count > 0
                    ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s)")
                    : HealthCheckResult.Unhealthy("Kafka returned no brokers."));
            }
            catch (KafkaException ex)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("Kafka is unreachable.", ex));
            }
        }
    }
}
