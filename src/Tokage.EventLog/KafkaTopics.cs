using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tokage.EventLog;

/// <summary>What a topic's durability must be: each partition on enough replicas, and writes acknowledged by enough of them.</summary>
public sealed record TopicDurability(string Topic, IReadOnlyList<int> ReplicasPerPartition, int? MinInSyncReplicas)
{
    /// <summary>
    /// Whether a shortfall is the topic's own (it exists, with too few replicas or a known low <c>min.insync.replicas</c>)
    /// rather than something not known yet (no partitions while brokers start, a configuration not readable now).
    /// </summary>
    public bool IsDefinitive(int replicationFactor, int minInSyncReplicas) =>
        ReplicasPerPartition.Count > 0 && (ReplicasPerPartition.Min() < replicationFactor || MinInSyncReplicas < minInSyncReplicas);

    /// <summary>Why the topic does not keep an acknowledged event through a broker's loss, or null when it does.</summary>
    public string? Shortfall(int replicationFactor, int minInSyncReplicas)
    {
        if (ReplicasPerPartition.Count == 0)
        {
            return $"topic '{Topic}' has no partitions";
        }

        var fewest = ReplicasPerPartition.Min();
        if (fewest < replicationFactor)
        {
            return $"topic '{Topic}' keeps {fewest} replica(s) of a partition; production needs {replicationFactor}";
        }

        if (MinInSyncReplicas is not { } minInSync)
        {
            return $"topic '{Topic}': its min.insync.replicas could not be read, so an acks=all write may rest on one broker";
        }

        return minInSync < minInSyncReplicas ? $"topic '{Topic}' has min.insync.replicas={minInSync}; production needs {minInSyncReplicas}" : null;
    }
}

/// <summary>
/// The log's topics (events and dead letters) on Kafka/Redpanda, through an admin client with the producer's own settings
/// (security included): created at start when missing (a production Redpanda
/// creates none on first use), with <see cref="EventLogOptions.Partitions"/> partitions, the replication factor and
/// <c>min.insync.replicas</c> of <see cref="EventLogOptions"/> (capped by the brokers there are, outside production).
/// With <see cref="EventLogOptions.RequireReplicatedTopics"/> (production), a topic with fewer replicas or a lower
/// <c>min.insync.replicas</c> is refused: the service stays not-ready and appends are refused with the reason.
/// </summary>
public sealed class KafkaTopics(Func<IAdminClient> adminClient, EventLogOptions options, ILogger<KafkaTopics> logger) : StartupTask(logger)
{
    private static readonly TimeSpan AdminTimeout = TimeSpan.FromSeconds(10);

    protected override string Description => "Event log topics";

    /// <summary>Null once the topics are checked (or outside production), else why appends are refused.</summary>
    public string? Refusal => !options.RequireReplicatedTopics || Done.IsCompletedSuccessfully ? null
        : $"The event log's topics are not verified as replicated: {LastError ?? "still checking"}.";

    protected override bool IsPermanent(Exception exception) => exception is TopicNotDurableException;

    protected override async Task RunAsync(CancellationToken cancellationToken)
    {
        using var admin = adminClient();
        var cluster = admin.GetMetadata(AdminTimeout);
        var replication = options.RequireReplicatedTopics ? options.ReplicationFactor : (short)Math.Min(options.ReplicationFactor, cluster.Brokers.Count);
        var minInSync = Math.Min(options.MinInSyncReplicas, replication);
        string[] topics = [options.Topic, options.DeadLetterTopic];
        var existing = cluster.Topics.Where(t => t.Error.Code == ErrorCode.NoError).Select(t => t.Topic).ToHashSet(StringComparer.Ordinal);
        await CreateMissingAsync(admin, [.. topics.Where(t => !existing.Contains(t))], replication, minInSync);

        if (!options.RequireReplicatedTopics)
        {
            return;
        }

        foreach (var topic in topics)
        {
            var durability = await DescribeAsync(admin, topic);
            if (durability.Shortfall(options.ReplicationFactor, options.MinInSyncReplicas) is { } shortfall)
            {
                if (!durability.IsDefinitive(options.ReplicationFactor, options.MinInSyncReplicas))
                {
                    // Not known yet (brokers starting, a configuration not readable now): retried, not a verdict.
                    throw new InvalidOperationException(shortfall);
                }

                throw new TopicNotDurableException(
                    $"{shortfall} ({EventLogOptions.SectionName}:{nameof(EventLogOptions.RequireReplicatedTopics)} is on: recreate it, " +
                    $"e.g. rpk topic create {topic} -r {options.ReplicationFactor} -p {options.Partitions} -c min.insync.replicas={options.MinInSyncReplicas})");
            }
        }

        logger.LogInformation("Event log topics {Topics} have {Replicas}+ replicas and min.insync.replicas {MinInSync}+.", string.Join(", ", topics), options.ReplicationFactor, options.MinInSyncReplicas);
    }

    private async Task CreateMissingAsync(IAdminClient admin, List<string> missing, short replication, int minInSync)
    {
        if (missing.Count == 0)
        {
            return;
        }

        try
        {
            await admin.CreateTopicsAsync(
                missing.Select(t => new TopicSpecification
                {
                    Name = t, NumPartitions = options.Partitions, ReplicationFactor = replication,
                    Configs = new() { ["min.insync.replicas"] = minInSync.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                }),
                new CreateTopicsOptions { RequestTimeout = AdminTimeout, OperationTimeout = AdminTimeout });
            logger.LogInformation("Created event log topic(s) {Topics}: {Partitions} partitions, {Replicas} replica(s), min.insync.replicas {MinInSync}.",
                string.Join(", ", missing), options.Partitions, replication, minInSync);
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
            // Another instance created them first.
        }
        catch (KafkaException ex)
        {
            // A broker that creates topics on first use (or a test cluster without the admin API) still serves; the
            // production check below reads what the topics really are.
            logger.LogWarning("Could not create event log topic(s) {Topics} ({Error}); relying on the brokers to create them.", string.Join(", ", missing), ex.Error.Reason);
        }
    }

    private async Task<TopicDurability> DescribeAsync(IAdminClient admin, string topic)
    {
        var metadata = admin.GetMetadata(topic, AdminTimeout).Topics.Single();
        var replicas = metadata.Partitions.Select(p => p.Replicas.Length).ToList();
        if (replicas.Count == 0 || replicas.Min() < options.ReplicationFactor)
        {
            // Refused on its replicas alone; no need to ask for its configuration.
            return new(topic, replicas, null);
        }

        int? minInSync = null;
        try
        {
            var described = await admin.DescribeConfigsAsync(
                [new ConfigResource { Type = ResourceType.Topic, Name = topic }], new DescribeConfigsOptions { RequestTimeout = AdminTimeout });
            if (described.Single().Entries.TryGetValue("min.insync.replicas", out var entry) && int.TryParse(entry.Value, out var value))
            {
                minInSync = value;
            }
        }
        catch (KafkaException)
        {
            // Unreadable counts as not verified (see TopicDurability.Shortfall).
        }

        return new(topic, replicas, minInSync);
    }

    private sealed class TopicNotDurableException(string message) : Exception(message);
}
