using Aspire.Hosting.ApplicationModel;
using Confluent.Kafka;

namespace Tokage.AppHost.Engines;

/// <summary>Redpanda (Kafka protocol) in a container: one node in dev mode for runs with a container runtime, three in production mode when published.</summary>
public sealed class RedpandaResource(string name) : ContainerResource(name), IResourceWithConnectionString
{
    public const string KafkaEndpointName = "kafka";

    public EndpointReference KafkaEndpoint => new(this, KafkaEndpointName);

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"{KafkaEndpoint.Property(EndpointProperty.Host)}:{KafkaEndpoint.Property(EndpointProperty.Port)}");
}

public static class EventLogEngine
{
    public const string RedpandaImage = "docker.redpanda.com/redpandadata/redpanda";
    public const string RedpandaTag = "v25.2.4";
    public const int KafkaPort = 9092;

    /// <summary>Redpanda's internal RPC port, on which brokers of a cluster talk to each other.</summary>
    public const int RpcPort = 33145;

    /// <summary>Brokers in the published (production) cluster; topics get this many replicas.</summary>
    public const int ProductionBrokers = 3;

    /// <summary>
    /// The durable event log: the configured connection string, Redpanda when containers run, else Redis
    /// Streams on the local redis-server (AOF, appendfsync always). The connection string names the
    /// transport: <c>Transport=Kafka;BootstrapServers=…</c> or <c>Transport=RedisStreams;Redis=…</c>.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddEventLogEngine(
        this IDistributedApplicationBuilder builder, string name, EngineProvider provider, IResourceBuilder<IResourceWithConnectionString> redis)
    {
        if (builder.HasConfiguredConnectionString(name))
        {
            return builder.AddConnectionString(name);
        }

        if (provider.Kind == EngineProviderKind.LocalProcesses)
        {
            return builder.AddConnection(name, redis, ReferenceExpression.Create($"Transport=RedisStreams;Redis={redis.Resource}"), provider, "EventLog");
        }

        var redpanda = builder.AddResource(new RedpandaResource("redpanda"))
            .WithImage(RedpandaImage, RedpandaTag)
            // Clients must be told the address they reach the broker at, so the port is fixed and unproxied.
            .WithEndpoint(port: KafkaPort, targetPort: KafkaPort, name: RedpandaResource.KafkaEndpointName, isProxied: false)
            .WithEndpoint(port: RpcPort, targetPort: RpcPort, name: "rpc", isProxied: false)
            .WithArgs(context =>
            {
                var endpoint = ((RedpandaResource)context.Resource).KafkaEndpoint;
                context.Args.Add("redpanda");
                context.Args.Add("start");
                context.Args.Add("--smp=1");
                context.Args.Add($"--kafka-addr=PLAINTEXT://0.0.0.0:{KafkaPort}");
                if (context.ExecutionContext.IsPublishMode)
                {
                    // Production: three brokers (a StatefulSet, see KubernetesPublishing) in production mode (not
                    // dev-container: fsync, no write caching), each advertising its own pod.
                    context.Args.Add($"--advertise-kafka-addr=PLAINTEXT://$(POD_NAME).redpanda:{KafkaPort}");
                    context.Args.Add($"--rpc-addr=0.0.0.0:{RpcPort}");
                    context.Args.Add($"--advertise-rpc-addr=$(POD_NAME).redpanda:{RpcPort}");
                    context.Args.Add("--seeds=" + string.Join(',', Enumerable.Range(0, ProductionBrokers).Select(i => $"redpanda-{i}.redpanda:{RpcPort}")));
                }
                else
                {
                    context.Args.Add("--mode=dev-container");
                    context.Args.Add(ReferenceExpression.Create(
                        $"--advertise-kafka-addr=PLAINTEXT://{endpoint.Property(EndpointProperty.Host)}:{endpoint.Property(EndpointProperty.Port)}"));
                }
            })
            .WithVolume("redpanda-data", "/var/lib/redpanda/data")
            .WithEnvironment(EngineResourceProperties.ProviderEnvironmentVariable, provider.DisplayName);

        redpanda.WithConnectionHealthCheck((bootstrapServers, _) =>
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).Build();
            var metadata = admin.GetMetadata(TimeSpan.FromSeconds(3));
            return metadata.Brokers.Count > 0 ? Task.CompletedTask : throw new InvalidOperationException("no brokers");
        });

        return builder.AddConnection(name, redpanda, ReferenceExpression.Create($"Transport=Kafka;BootstrapServers={redpanda.Resource}"), provider, "EventLog");
    }
}
