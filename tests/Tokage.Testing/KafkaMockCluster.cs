using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Tokage.Testing;

/// <summary>
/// librdkafka's mock cluster (real Kafka protocol, in this process) with three brokers, and its fault API
/// (reached through librdkafka's exported C functions): topic errors and brokers going down.
/// </summary>
public sealed unsafe class KafkaMockCluster : IDisposable
{
    /// <summary>NOT_ENOUGH_REPLICAS: the partition cannot satisfy acks=all (retriable, so the producer keeps trying).</summary>
    public const int NotEnoughReplicas = 19;

    private readonly IProducer<Null, Null> owner;
    private readonly nint cluster;
    private const short ProduceApiKey = 0;

    private readonly delegate* unmanaged<nint, short, nuint, int*, void> pushRequestErrors;
    private readonly delegate* unmanaged<nint, short, void> clearRequestErrors;
    private readonly delegate* unmanaged<nint, int, int> brokerSetDown;
    private readonly delegate* unmanaged<nint, int, int> brokerSetUp;
    private readonly delegate* unmanaged<nint, byte*, int, int, int> topicCreate;

    /// <summary>
    /// A three-broker mock cluster with the log's two topics (<paramref name="partitions"/> partitions, each on
    /// <paramref name="replicationFactor"/> brokers) made as production expects them made beforehand: the mock has no
    /// CreateTopics API, so a service's topic check finds them instead of asking for them.
    /// </summary>
    public KafkaMockCluster(int partitions = 4, int replicationFactor = 3)
    {
        var config = new ProducerConfig { BootstrapServers = "unused:9092" };
        config.Set("test.mock.num.brokers", "3");
        owner = new ProducerBuilder<Null, Null>(config).Build();

        // Confluent.Kafka keeps the rd_kafka_t* behind an internal handle; the mock API needs it.
        var safeHandle = (SafeHandle)typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(owner.Handle)!;
        var library = NativeLibrary.Load(LibrdkafkaPath());
        var handleMockCluster = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(library, "rd_kafka_handle_mock_cluster");
        pushRequestErrors = (delegate* unmanaged<nint, short, nuint, int*, void>)NativeLibrary.GetExport(library, "rd_kafka_mock_push_request_errors_array");
        clearRequestErrors = (delegate* unmanaged<nint, short, void>)NativeLibrary.GetExport(library, "rd_kafka_mock_clear_request_errors");
        brokerSetDown = (delegate* unmanaged<nint, int, int>)NativeLibrary.GetExport(library, "rd_kafka_mock_broker_set_down");
        brokerSetUp = (delegate* unmanaged<nint, int, int>)NativeLibrary.GetExport(library, "rd_kafka_mock_broker_set_up");
        topicCreate = (delegate* unmanaged<nint, byte*, int, int, int>)NativeLibrary.GetExport(library, "rd_kafka_mock_topic_create");
        cluster = handleMockCluster(safeHandle.DangerousGetHandle());
        if (cluster == 0)
        {
            throw new InvalidOperationException("librdkafka did not create a mock cluster.");
        }

        using var admin = new DependentAdminClientBuilder(owner.Handle).Build();
        BootstrapServers = string.Join(',', admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers.Select(b => $"{b.Host}:{b.Port}"));
        var options = new EventLog.EventLogOptions();
        CreateTopic(options.Topic, partitions, replicationFactor);
        CreateTopic(options.DeadLetterTopic, partitions, replicationFactor);
    }

    public string BootstrapServers { get; }

    /// <summary>The next <paramref name="count"/> Produce requests, to any broker, fail with <paramref name="error"/>.</summary>
    public void FailProduceRequests(int error, int count)
    {
        var errors = Enumerable.Repeat(error, count).ToArray();
        fixed (int* pointer = errors)
        {
            pushRequestErrors(cluster, ProduceApiKey, (nuint)count, pointer);
        }
    }

    /// <summary>Creates a topic with <paramref name="partitions"/> partitions (the mock's auto-created topics have its default count).</summary>
    public void CreateTopic(string name, int partitions, int replicationFactor = 3)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* pointer = bytes)
        {
            var error = topicCreate(cluster, pointer, partitions, replicationFactor);
            if (error != 0)
            {
                throw new InvalidOperationException($"The mock cluster did not create topic '{name}' (error {error}).");
            }
        }
    }

    public void ClearProduceErrors() => clearRequestErrors(cluster, ProduceApiKey);

    public void SetBrokerDown(int brokerId) => brokerSetDown(cluster, brokerId);

    public void SetBrokerUp(int brokerId) => brokerSetUp(cluster, brokerId);

    public void Dispose() => owner.Dispose();

    /// <summary>The librdkafka build Confluent.Kafka picked (it tries several), read off this process's memory map.</summary>
    private static string LibrdkafkaPath() =>
        File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
            .FirstOrDefault(path => Path.GetFileName(path).Contains("librdkafka", StringComparison.Ordinal))
        ?? throw new InvalidOperationException("librdkafka is not loaded in this process.");
}
