using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Tokage.Integrations.Tests;

/// <summary>
/// The Kafka integration against librdkafka's mock cluster: real Kafka wire protocol, three brokers, in
/// this process. The client that owns the cluster is disposed to take every broker away.
/// </summary>
public sealed class KafkaIntegrationTests : IDisposable
{
    private readonly IProducer<Null, Null> _clusterOwner = StartMockCluster();

    private static IProducer<Null, Null> StartMockCluster()
    {
        var config = new ProducerConfig { BootstrapServers = "unused:9092" };
        config.Set("test.mock.num.brokers", "3");
        return new ProducerBuilder<Null, Null>(config).Build();
    }

    public void Dispose() => _clusterOwner.Dispose();

    private string BootstrapServers()
    {
        using var admin = new DependentAdminClientBuilder(_clusterOwner.Handle).Build();
        return string.Join(',', admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers.Select(b => $"{b.Host}:{b.Port}"));
    }

    private static IHost BuildHost(string bootstrapServers)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:events"] = $"Transport=Kafka;BootstrapServers={bootstrapServers}";
        builder.Configuration["Tokage:Kafka:HealthCheckTimeout"] = "00:00:03";
        builder.AddEventLogClient("events");
        return builder.Build();
    }

    [Fact]
    public async Task Producer_is_durable_and_delivery_is_persisted()
    {
        using var host = BuildHost(BootstrapServers());
        var producer = host.Services.GetRequiredService<IProducer<string, byte[]>>();

        var report = await producer.ProduceAsync("tokage.usage.v1", new Message<string, byte[]> { Key = "tenant-1", Value = [1, 2, 3] });

        Assert.Equal(PersistenceStatus.Persisted, report.Status);
        var config = KafkaExtensions.CreateProducerConfig("b:9092");
        Assert.Equal(Acks.All, config.Acks);
        Assert.True(config.EnableIdempotence);
    }

    [Fact]
    public async Task Health_follows_the_brokers()
    {
        using var host = BuildHost(BootstrapServers());
        var health = host.Services.GetRequiredService<HealthCheckService>();

        var up = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, up.Entries["kafka-events"].Status);

        _clusterOwner.Dispose(); // every broker goes away
        var down = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, down.Entries["kafka-events"].Status);
    }
}
