using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tokage.EventLog.Tests;

/// <summary>The Kafka transport over librdkafka's 3-broker mock cluster, faults injected with its own API.</summary>
public sealed class KafkaEventLogTests : IDisposable
{
    private readonly KafkaMockCluster cluster = new();
    private readonly IProducer<string, byte[]> producer;

    public KafkaEventLogTests()
    {
        // A short delivery timeout, so a refused produce fails within the test's patience.
        producer = new ProducerBuilder<string, byte[]>(KafkaExtensions.CreateProducerConfig(
            cluster.BootstrapServers, new Dictionary<string, string> { ["message.timeout.ms"] = "1500" })).Build();
    }

    public void Dispose()
    {
        producer.Dispose();
        cluster.Dispose();
    }

    // A consumer that leaves is noticed within seconds, not the default 45 s, so the next one gets its partitions soon.
    private KafkaEventLog Log(string topic) => new(producer, cluster.BootstrapServers, new EventLogOptions
    {
        Topic = topic,
        AckTimeout = TimeSpan.FromSeconds(5),
        Consumer = { ["session.timeout.ms"] = "6000", ["heartbeat.interval.ms"] = "500" },
    }, NullLogger<KafkaEventLog>.Instance);

    private static List<EventLogRecord> Records(int count, string prefix) =>
        Enumerable.Range(0, count).Select(i => new EventLogRecord($"tenant-{i % 4}", System.Text.Encoding.UTF8.GetBytes($"{prefix}-{i}"))).ToList();

    /// <summary>Reads until <paramref name="expected"/> records (or distinct values) or 30 s.</summary>
    private static async Task<List<ConsumedRecord>> DrainAsync(IEventLogConsumer consumer, int expected, bool ack, bool distinct = false)
    {
        var read = new List<ConsumedRecord>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((distinct ? read.Select(r => System.Text.Encoding.UTF8.GetString(r.Value)).Distinct().Count() : read.Count) < expected && DateTime.UtcNow < deadline)
        {
            var batch = await consumer.ReadAsync(500, TimeSpan.FromSeconds(1));
            read.AddRange(batch);
            if (ack)
            {
                await consumer.AckAsync(batch);
            }
        }

        return read;
    }

    [Fact]
    public async Task AppendedRecordsAreConsumedByAGroupAndCommittedOffsetsAreNotReadAgain()
    {
        var log = Log("usage-consume");
        var records = Records(2_000, "e");
        await log.AppendAsync(records);

        await using (var consumer = log.CreateConsumer("processor", "p-1"))
        {
            var read = await DrainAsync(consumer, records.Count, ack: true);
            Assert.Equal(records.Select(r => System.Text.Encoding.UTF8.GetString(r.Value)).Order(), read.Select(r => System.Text.Encoding.UTF8.GetString(r.Value)).Order());
            Assert.All(read, r => Assert.Matches("^usage-consume/[0-9]+@[0-9]+$", r.Position));

            // Same tenant, same partition: the key orders a tenant's events.
            Assert.All(read.GroupBy(r => r.Key), g => Assert.Single(g.Select(r => r.Position.Split('@')[0]).Distinct()));
        }

        await log.AppendAsync(Records(10, "later"));
        await using var next = log.CreateConsumer("processor", "p-2");
        var rest = await DrainAsync(next, 10, ack: true);
        Assert.Equal(10, rest.Count);
        Assert.All(rest, r => Assert.StartsWith("later-", System.Text.Encoding.UTF8.GetString(r.Value)));
    }

    [Fact]
    public async Task AConsumerKeptAlivePastThePollIntervalStaysInItsGroupAndReadsOnWithoutGapOrRepeat()
    {
        var log = new KafkaEventLog(producer, cluster.BootstrapServers, new EventLogOptions
        {
            Topic = "usage-keepalive",
            Consumer = { ["session.timeout.ms"] = "3000", ["heartbeat.interval.ms"] = "500", ["max.poll.interval.ms"] = "4000" },
        }, NullLogger<KafkaEventLog>.Instance);
        var records = Records(3_000, "k");
        await log.AppendAsync(records);
        await using var consumer = log.CreateConsumer("processor", "p-1");
        var first = await DrainAsync(consumer, 1, ack: false);

        // A sink is down for twice the poll interval; records are appended meanwhile. Then reading resumes.
        var until = DateTime.UtcNow.AddSeconds(8);
        while (DateTime.UtcNow < until)
        {
            await consumer.KeepAliveAsync(TimeSpan.FromSeconds(1));
        }

        await consumer.AckAsync(first);
        await log.AppendAsync(Records(500, "during"));
        var rest = await DrainAsync(consumer, records.Count + 500 - first.Count, ack: true);

        // An evicted consumer rejoins and is handed its partitions from the last commit: the first read would come again.
        var all = first.Concat(rest).Select(r => System.Text.Encoding.UTF8.GetString(r.Value)).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(records.Count + 500, all.Count);
    }

    [Fact]
    public async Task AConsumerKeptAliveBeforeItReadAnythingFromItsNewAssignmentSkipsNothing()
    {
        // As after a rebalance in mid-outage: the partitions arrive, and their first records are fetched, while the
        // processor is only keeping its place (ClickHouse still down). Then reading resumes.
        var log = Log("usage-keepalive-fresh");
        var records = Records(3_000, "f");
        await log.AppendAsync(records);
        await using var consumer = log.CreateConsumer("processor", "p-1");
        for (var step = 0; step < 20; step++)
        {
            await consumer.KeepAliveAsync(TimeSpan.FromMilliseconds(1));
            await Task.Delay(200);
        }

        var read = await DrainAsync(consumer, records.Count, ack: true);
        var values = read.Select(r => System.Text.Encoding.UTF8.GetString(r.Value)).ToList();
        Assert.Equal(records.Count, values.Distinct().Count());
    }

    [Fact]
    public async Task PartitionsPausedWhileKeptAliveAndHandedBackByARebalanceAreReadAgain()
    {
        // Many tenants, so every partition has records.
        var log = Log("usage-keepalive-rebalance");
        var records = Enumerable.Range(0, 3_000).Select(i => new EventLogRecord($"tenant-{i % 40}", System.Text.Encoding.UTF8.GetBytes($"r-{i}"))).ToList();
        await log.AppendAsync(records);
        await using var first = log.CreateConsumer("processor", "p-1");
        var read = await DrainAsync(first, 1, ack: false);

        // A sink is down: the first consumer keeps its place (its partitions paused) while a second joins and takes
        // half of them; the first reads on (its half), then the second leaves and hands its half back.
        var second = log.CreateConsumer("processor", "p-2");
        await KeepBothAliveAsync(first, second, TimeSpan.FromSeconds(8));
        read.AddRange(await first.ReadAsync(100, TimeSpan.FromSeconds(1)));
        await second.DisposeAsync();

        read.AddRange(await DrainAsync(first, records.Count, ack: false, distinct: true));
        Assert.Equal(records.Count, read.Select(r => System.Text.Encoding.UTF8.GetString(r.Value)).Distinct().Count());
    }

    private static async Task KeepBothAliveAsync(IEventLogConsumer first, IEventLogConsumer second, TimeSpan duration)
    {
        var until = DateTime.UtcNow + duration;
        while (DateTime.UtcNow < until)
        {
            await Task.WhenAll(first.KeepAliveAsync(TimeSpan.FromMilliseconds(200)), second.KeepAliveAsync(TimeSpan.FromMilliseconds(200)));
        }
    }

    [Fact]
    public async Task WhatWasReadButNotAcknowledgedIsReadAgain()
    {
        var log = Log("usage-redeliver");
        await log.AppendAsync(Records(50, "e"));
        await using (var crashed = log.CreateConsumer("processor", "crashed"))
        {
            Assert.Equal(50, (await DrainAsync(crashed, 50, ack: false)).Count);
        }

        await using var survivor = log.CreateConsumer("processor", "survivor");
        Assert.Equal(50, (await DrainAsync(survivor, 50, ack: true)).Count);
    }

    [Fact]
    public async Task ABrokerThatCannotSatisfyAcksAllMeansUnavailableAndNoAcknowledgedRecordIsLost()
    {
        var log = Log("usage-faults");
        var before = Records(100, "before");
        await log.AppendAsync(before);

        cluster.FailProduceRequests(KafkaMockCluster.NotEnoughReplicas, 10_000);
        var refused = await Assert.ThrowsAsync<EventLogUnavailableException>(() => log.AppendAsync(Records(20, "refused")));
        Assert.Contains("did not acknowledge", refused.Message);

        cluster.ClearProduceErrors();
        var after = Records(100, "after");
        await log.AppendAsync(after);

        await using var consumer = log.CreateConsumer("audit", "a-1");
        var read = (await DrainAsync(consumer, 200, ack: true)).Select(r => System.Text.Encoding.UTF8.GetString(r.Value)).ToHashSet();
        Assert.Superset(before.Concat(after).Select(r => System.Text.Encoding.UTF8.GetString(r.Value)).ToHashSet(), read);
        Assert.Equal(200, read.Count(v => !v.StartsWith("refused-", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task APoisonRecordGoesToTheDeadLetterTopicWithItsReason()
    {
        var log = Log("usage-dlq");
        await log.AppendAsync(Records(3, "e"));
        await using var consumer = log.CreateConsumer("processor", "p-1");
        var read = await DrainAsync(consumer, 3, ack: false);

        await consumer.DeadLetterAsync(read[0], "unknown schema version 9");

        using var dlq = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers, GroupId = "dlq-reader", AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        dlq.Subscribe("usage-dlq.dlq");
        var dead = dlq.Consume(TimeSpan.FromSeconds(15));
        Assert.NotNull(dead);
        Assert.Equal(read[0].Value, dead.Message.Value);
        Assert.Equal("unknown schema version 9", System.Text.Encoding.UTF8.GetString(dead.Message.Headers.GetLastBytes("reason")));
        dlq.Close();
    }

    /// <summary>
    /// In production, a topic kept on one broker is refused: the topic check fails for good, naming the topic and what
    /// production needs; the service is not ready; appends are refused and nothing reaches the topic. Outside production
    /// the same topic serves.
    /// </summary>
    [Fact]
    public async Task InProductionATopicOnOneBrokerIsRefusedAndNothingIsAppended()
    {
        using var single = new KafkaMockCluster(replicationFactor: 1);
        using var singleProducer = new ProducerBuilder<string, byte[]>(KafkaExtensions.CreateProducerConfig(single.BootstrapServers)).Build();
        var production = new EventLogOptions { RequireReplicatedTopics = true };
        using var topics = new KafkaTopics(() => new DependentAdminClientBuilder(singleProducer.Handle).Build(), production, NullLogger<KafkaTopics>.Instance);

        await topics.StartAsync(CancellationToken.None);
        await Assert.ThrowsAnyAsync<Exception>(() => topics.Done.WaitAsync(TimeSpan.FromSeconds(30)));
        var health = await topics.CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, health.Status);
        Assert.Contains($"topic '{production.Topic}' keeps 1 replica(s) of a partition; production needs 3", health.Description);

        var refused = await Assert.ThrowsAsync<EventLogUnavailableException>(() =>
            new KafkaEventLog(singleProducer, single.BootstrapServers, production, NullLogger<KafkaEventLog>.Instance, topics).AppendAsync(Records(3, "p")));
        Assert.Contains("production needs 3", refused.Message);
        using (var watermarks = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = single.BootstrapServers, GroupId = "watermarks" }).Build())
        {
            Assert.All(Enumerable.Range(0, 4), partition =>
                Assert.Equal(0, watermarks.QueryWatermarkOffsets(new TopicPartition(production.Topic, partition), TimeSpan.FromSeconds(5)).High.Value));
        }

        var development = new EventLogOptions();
        using var devTopics = new KafkaTopics(() => new DependentAdminClientBuilder(singleProducer.Handle).Build(), development, NullLogger<KafkaTopics>.Instance);
        await devTopics.StartAsync(CancellationToken.None);
        await devTopics.Done.WaitAsync(TimeSpan.FromSeconds(30));
        await new KafkaEventLog(singleProducer, single.BootstrapServers, development, NullLogger<KafkaEventLog>.Instance, devTopics).AppendAsync(Records(3, "d"));
        await topics.StopAsync(CancellationToken.None);
        await devTopics.StopAsync(CancellationToken.None);
    }

    [Theory]
    [InlineData(new[] { 3, 3, 3 }, 2, null)]
    [InlineData(new[] { 3, 3, 3 }, 3, null)]
    [InlineData(new[] { 3, 1, 3 }, 2, "keeps 1 replica(s) of a partition; production needs 3")]
    [InlineData(new[] { 3, 3, 3 }, 1, "has min.insync.replicas=1; production needs 2")]
    [InlineData(new[] { 3, 3, 3 }, -1, "could not be read")]
    [InlineData(new int[0], 2, "has no partitions")]
    public void ATopicIsDurableOnlyWithEnoughReplicasAndInSyncReplicas(int[] replicas, int minInSync, string? shortfall)
    {
        var durability = new TopicDurability("t", replicas, minInSync < 0 ? null : minInSync);

        var found = durability.Shortfall(replicationFactor: 3, minInSyncReplicas: 2);

        // A verdict only on what the topic is; what is not known yet (no partitions, an unreadable setting) is retried.
        Assert.Equal(shortfall is not null && replicas.Length > 0 && minInSync >= 0, durability.IsDefinitive(3, 2));

        if (shortfall is null)
        {
            Assert.Null(found);
        }
        else
        {
            Assert.Contains(shortfall, found);
        }
    }
}
