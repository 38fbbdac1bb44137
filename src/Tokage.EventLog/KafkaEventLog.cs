using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Tokage.EventLog;

/// <summary>
/// The event log on Kafka/Redpanda: the durable producer (acks=all, idempotent, lz4) with key = tenant id; an
/// append succeeds only when every delivery report says <c>Persisted</c>. Consumers commit offsets only on
/// <see cref="IEventLogConsumer.AckAsync"/>, so whatever was read but not acknowledged is read again.
/// </summary>
public sealed class KafkaEventLog(
    IProducer<string, byte[]> producer, string bootstrapServers, EventLogOptions options, ILogger<KafkaEventLog> logger, KafkaTopics? topics = null) : IEventLog
{
    public async Task AppendAsync(IReadOnlyList<EventLogRecord> records, CancellationToken cancellationToken = default)
    {
        if (records.Count == 0)
        {
            return;
        }

        if (topics?.Refusal is { } refusal)
        {
            throw new EventLogUnavailableException(refusal);
        }

        var deliveries = records
            .Select(r => producer.ProduceAsync(options.Topic, new Message<string, byte[]> { Key = r.Key, Value = r.Value }, CancellationToken.None))
            .ToArray();
        try
        {
            var reports = await Task.WhenAll(deliveries).WaitAsync(options.AckTimeout, cancellationToken);
            var unsure = reports.Count(r => r.Status != PersistenceStatus.Persisted);
            if (unsure > 0)
            {
                throw new EventLogUnavailableException($"Kafka did not confirm {unsure} of {records.Count} event(s) as persisted.");
            }
        }
        catch (Exception ex) when (ex is ProduceException<string, byte[]> or KafkaException or TimeoutException)
        {
            throw new EventLogUnavailableException($"Kafka did not acknowledge {records.Count} event(s) within {options.AckTimeout.TotalSeconds:0.#} s: {ex.Message}", ex);
        }
    }

    public IEventLogConsumer CreateConsumer(string group, string consumerName) =>
        new Consumer(bootstrapServers, producer, options, group, consumerName, logger);

    /// <summary>
    /// Committed offsets against the high watermarks, per partition; the oldest pending entry's time is read from the
    /// first uncommitted message of each lagging partition. A consumer that never joins the group reads them.
    /// </summary>
    public Task<EventLogBacklog> BacklogAsync(string group, CancellationToken cancellationToken = default) => Task.Run(() =>
    {
        var timeout = TimeSpan.FromSeconds(5);
        using var admin = new DependentAdminClientBuilder(producer.Handle).Build();
        List<TopicPartition> PartitionsOf(string topic) =>
            admin.GetMetadata(topic, timeout).Topics.Where(t => t.Error.Code == ErrorCode.NoError)
                .SelectMany(t => t.Partitions.Select(p => new TopicPartition(topic, p.PartitionId))).ToList();

        using var reader = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = group,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
        }).Build();
        var deadLettered = PartitionsOf(options.DeadLetterTopic).Sum(p =>
        {
            var marks = reader.QueryWatermarkOffsets(p, timeout);
            return marks.High.Value - marks.Low.Value;
        });

        var lagging = new List<TopicPartitionOffset>();
        var pending = 0L;
        foreach (var committed in reader.Committed(PartitionsOf(options.Topic), timeout))
        {
            var marks = reader.QueryWatermarkOffsets(committed.TopicPartition, timeout);
            // No commit yet: the group starts at the earliest entry (AutoOffsetReset.Earliest).
            var from = committed.Offset.Value < 0 ? marks.Low.Value : Math.Max(committed.Offset.Value, marks.Low.Value);
            if (marks.High.Value > from)
            {
                pending += marks.High.Value - from;
                lagging.Add(new TopicPartitionOffset(committed.TopicPartition, from));
            }
        }

        DateTimeOffset? oldest = null;
        if (lagging.Count > 0)
        {
            reader.Assign(lagging);
            var seen = new HashSet<TopicPartition>();
            var until = DateTime.UtcNow + timeout;
            while (seen.Count < lagging.Count && DateTime.UtcNow < until && !cancellationToken.IsCancellationRequested)
            {
                if (reader.Consume(TimeSpan.FromMilliseconds(200)) is { } message && seen.Add(message.TopicPartition))
                {
                    var at = message.Message.Timestamp.UtcDateTime;
                    oldest = oldest is null || at < oldest ? at : oldest;
                }
            }
        }

        return new EventLogBacklog(pending, oldest, deadLettered);
    }, cancellationToken);

    private sealed class Consumer : IEventLogConsumer
    {
        private readonly IConsumer<string, byte[]> consumer;
        private readonly IProducer<string, byte[]> producer;
        private readonly EventLogOptions options;
        private readonly ILogger logger;

        // Used by the reading thread only (ReadAsync and KeepAliveAsync are never concurrent).
        private readonly HashSet<TopicPartition> paused = [];
        private readonly Queue<ConsumedRecord> held = new();

        public Consumer(string bootstrapServers, IProducer<string, byte[]> producer, EventLogOptions options, string group, string name, ILogger logger)
        {
            this.producer = producer;
            this.options = options;
            this.logger = logger;
            var config = new ConsumerConfig
            {
                BootstrapServers = bootstrapServers,
                GroupId = group,
                ClientId = name,
                EnableAutoCommit = false,
                EnableAutoOffsetStore = false,
                AutoOffsetReset = AutoOffsetReset.Earliest,
            };
            foreach (var (key, value) in options.Consumer)
            {
                config.Set(key, value);
            }

            consumer = new ConsumerBuilder<string, byte[]>(config)
                .SetPartitionsRevokedHandler((self, revoked) => Release(self, revoked.Select(p => p.TopicPartition).ToHashSet()))
                .Build();
            consumer.Subscribe(options.Topic);
        }

        public Task<IReadOnlyList<ConsumedRecord>> ReadAsync(int max, TimeSpan wait, CancellationToken cancellationToken = default) =>
            Task.Run<IReadOnlyList<ConsumedRecord>>(() =>
            {
                ResumePaused();
                var records = new List<ConsumedRecord>();
                var deadline = DateTime.UtcNow + wait;
                while (records.Count < max && held.TryDequeue(out var kept))
                {
                    records.Add(kept);
                }

                while (records.Count < max)
                {
                    var left = deadline - DateTime.UtcNow;
                    var result = consumer.Consume(records.Count == 0 ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : TimeSpan.Zero);
                    if (result is null || result.IsPartitionEOF)
                    {
                        break;
                    }

                    records.Add(ToRecord(result));
                }

                return records;
            }, cancellationToken);

        public Task KeepAliveAsync(TimeSpan wait, CancellationToken cancellationToken = default) =>
            Task.Run(async () =>
            {
                try
                {
                    // The whole assignment each time: a rebalance may have handed partitions back unpaused.
                    var assignment = consumer.Assignment;
                    if (assignment.Count > 0)
                    {
                        consumer.Pause(assignment);
                        paused.UnionWith(assignment);
                    }

                    // Consume serves the group (heartbeats, rebalances) and resets the poll interval; paused partitions fetch nothing.
                    if (consumer.Consume(wait) is { IsPartitionEOF: false } result)
                    {
                        held.Enqueue(ToRecord(result));
                    }
                }
                catch (KafkaException ex)
                {
                    // Keeping alive must not end the caller's retry: the next call (or read) tries again.
                    logger.LogWarning("Keeping the consumer alive failed ({Error}); trying again.", ex.Message);
                    await Task.Delay(wait, cancellationToken);
                }
            }, cancellationToken);

        public Task AckAsync(IReadOnlyList<ConsumedRecord> records, CancellationToken cancellationToken = default)
        {
            // The next offset to read, per partition: everything before it is done. A partition taken away by a
            // rebalance is not committed here: its new owner reads it again from the last commit, and the processor
            // finds those events already stored (it asks ClickHouse), so they count once.
            var assigned = consumer.Assignment.ToHashSet();
            var offsets = records.Select(r => (TopicPartitionOffset)r.Handle!)
                .GroupBy(o => o.TopicPartition)
                .Select(g => new TopicPartitionOffset(g.Key, g.Max(o => o.Offset.Value) + 1))
                .ToList();
            var lost = offsets.Where(o => !assigned.Contains(o.TopicPartition)).ToList();
            if (lost.Count > 0)
            {
                logger.LogInformation("Not committing {Partitions}: no longer assigned to this consumer; their new owner reads them again.",
                    string.Join(", ", lost.Select(o => o.TopicPartition.ToString())));
            }

            var owned = offsets.Except(lost).ToList();
            if (owned.Count > 0)
            {
                consumer.Commit(owned);
            }

            return Task.CompletedTask;
        }

        private static ConsumedRecord ToRecord(ConsumeResult<string, byte[]> result) =>
            new(result.Message.Key, result.Message.Value, $"{result.Topic}/{result.Partition.Value}@{result.Offset.Value}", 1)
            {
                Handle = result.TopicPartitionOffset,
            };

        /// <summary>
        /// Called (on the reading thread, within Consume) as a rebalance takes partitions away. They leave unpaused:
        /// librdkafka keeps a partition's pause across a reassignment, so one handed back later would never be read
        /// again. Records held from them go too: their next owner, maybe this consumer, reads them again from the last
        /// commit, and a held record committed ahead of those would skip them.
        /// </summary>
        private void Release(IConsumer<string, byte[]> self, HashSet<TopicPartition> revoked)
        {
            var wasPaused = revoked.Where(paused.Contains).ToList();
            if (wasPaused.Count > 0)
            {
                self.Resume(wasPaused);
                paused.ExceptWith(wasPaused);
            }

            var kept = held.Where(r => !revoked.Contains(((TopicPartitionOffset)r.Handle!).TopicPartition)).ToList();
            held.Clear();
            kept.ForEach(held.Enqueue);
            logger.LogInformation("Partitions {Partitions} taken away by a rebalance.", string.Join(", ", revoked));
        }

        /// <summary>Resumes what <see cref="KeepAliveAsync"/> paused and is still assigned (a rebalance may have moved it).</summary>
        private void ResumePaused()
        {
            if (paused.Count == 0)
            {
                return;
            }

            var assigned = consumer.Assignment.Where(paused.Contains).ToList();
            if (assigned.Count > 0)
            {
                consumer.Resume(assigned);
            }

            paused.Clear();
        }

        public async Task DeadLetterAsync(ConsumedRecord record, string reason, CancellationToken cancellationToken = default)
        {
            var message = new Message<string, byte[]>
            {
                Key = record.Key,
                Value = record.Value,
                Headers = new Headers
                {
                    { "reason", System.Text.Encoding.UTF8.GetBytes(reason) },
                    { "position", System.Text.Encoding.UTF8.GetBytes(record.Position) },
                },
            };
            var report = await producer.ProduceAsync(options.DeadLetterTopic, message, cancellationToken);
            if (report.Status != PersistenceStatus.Persisted)
            {
                throw new EventLogUnavailableException($"The dead-letter topic did not persist {record.Position}.");
            }

            await AckAsync([record], cancellationToken);
            logger.LogWarning("Event log record {Position} dead-lettered: {Reason}", record.Position, reason);
        }

        public ValueTask DisposeAsync()
        {
            consumer.Close();
            consumer.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
