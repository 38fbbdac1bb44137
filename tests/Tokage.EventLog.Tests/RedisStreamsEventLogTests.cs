using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Tokage.EventLog.Tests;

public sealed class RedisStreamsEventLogTests : IAsyncLifetime
{
    private RedisProcess redis = null!;
    private ConnectionMultiplexer connection = null!;

    public async Task InitializeAsync()
    {
        redis = await RedisProcess.StartAsync();
        connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
    }

    public async Task DisposeAsync()
    {
        await connection.DisposeAsync();
        await redis.DisposeAsync();
    }

    private RedisStreamsEventLog Log(EventLogOptions? options = null) =>
        new(connection, options ?? new EventLogOptions(), NullLogger<RedisStreamsEventLog>.Instance);

    private static List<EventLogRecord> Records(int count, string prefix = "e") =>
        Enumerable.Range(0, count).Select(i => new EventLogRecord($"tenant-{i % 3}", System.Text.Encoding.UTF8.GetBytes($"{prefix}-{i}\n\n\0"))).ToList();

    [Fact]
    public async Task AppendedRecordsAreConsumedOnceAndAcknowledged()
    {
        var log = Log();
        var records = Records(1_500);
        await log.AppendAsync(records);

        await using var consumer = log.CreateConsumer("processor", "p-1");
        var read = new List<ConsumedRecord>();
        while (await consumer.ReadAsync(1_000, TimeSpan.FromMilliseconds(200)) is { Count: > 0 } batch)
        {
            read.AddRange(batch);
            await consumer.AckAsync(batch);
        }

        Assert.Equal(records.Select(r => (r.Key, Convert.ToBase64String(r.Value))), read.Select(r => (r.Key, Convert.ToBase64String(r.Value))));
        Assert.All(read, r => Assert.StartsWith("tokage.usage.v1@", r.Position));
        Assert.Equal(0L, (await connection.GetDatabase().StreamPendingAsync("tokage.usage.v1", "processor")).PendingMessageCount);

        // A second group reads everything again: groups are independent.
        await using var other = log.CreateConsumer("billing", "b-1");
        Assert.Equal(1_000, (await other.ReadAsync(1_000, TimeSpan.FromSeconds(1))).Count);
    }

    [Fact]
    public async Task AConsumerRestartedUnderItsNameGetsBackItsUnacknowledgedBatchesFirstAndInOrder()
    {
        var topic = "restart-" + Guid.NewGuid().ToString("N");
        var log = Log(new EventLogOptions { Topic = topic });
        await log.AppendAsync(Records(25));
        await using (var before = log.CreateConsumer("processor", "pod-0"))
        {
            var acked = await before.ReadAsync(5, TimeSpan.FromSeconds(1));
            await before.AckAsync(acked);
            Assert.Equal(10, (await before.ReadAsync(10, TimeSpan.FromSeconds(1))).Count);
            Assert.Equal(10, (await before.ReadAsync(10, TimeSpan.FromSeconds(1))).Count);
        }

        // It died holding two batches: they come back whole, oldest first, before anything new (no claim timeout to wait for).
        await using var after = log.CreateConsumer("processor", "pod-0");
        var first = await after.ReadAsync(10, TimeSpan.FromSeconds(1));
        var second = await after.ReadAsync(10, TimeSpan.FromSeconds(1));
        var rest = await after.ReadAsync(10, TimeSpan.FromSeconds(1));

        Assert.Equal(Enumerable.Range(5, 10).Select(i => $"e-{i}"), first.Select(Text));
        Assert.Equal(Enumerable.Range(15, 10).Select(i => $"e-{i}"), second.Select(Text));
        Assert.Empty(rest);
    }

    [Fact]
    public async Task ARecordHeldPastTheClaimTimeoutIsNotHandedOutAgainByTheSameConsumer()
    {
        var log = Log(new EventLogOptions { Topic = "held-" + Guid.NewGuid().ToString("N"), ClaimAfter = TimeSpan.FromMilliseconds(100) });
        await log.AppendAsync(Records(10));
        await using var consumer = log.CreateConsumer("processor", "pipelined");
        var held = await consumer.ReadAsync(10, TimeSpan.FromSeconds(1));
        await Task.Delay(400);

        // Still being written by this consumer's other stage: not its own duplicate to process.
        var again = await consumer.ReadAsync(10, TimeSpan.FromMilliseconds(300));
        await consumer.AckAsync(held);

        Assert.Equal(10, held.Count);
        Assert.Empty(again);
    }

    private static string Text(ConsumedRecord record) => System.Text.Encoding.UTF8.GetString(record.Value).TrimEnd('\n', '\0');

    [Fact]
    public async Task WhatADeadConsumerLeftUnacknowledgedIsClaimedByAnother()
    {
        var log = Log(new EventLogOptions { ClaimAfter = TimeSpan.FromMilliseconds(300) });
        await log.AppendAsync(Records(10));

        await using var crashed = log.CreateConsumer("processor", "crashed");
        Assert.Equal(10, (await crashed.ReadAsync(100, TimeSpan.FromSeconds(1))).Count);

        await using var survivor = log.CreateConsumer("processor", "survivor");
        Assert.Empty(await survivor.ReadAsync(100, TimeSpan.Zero));
        await Task.Delay(400);
        var claimed = await survivor.ReadAsync(100, TimeSpan.FromSeconds(1));

        Assert.Equal(10, claimed.Count);
        Assert.All(claimed, r => Assert.Equal(2, r.DeliveryCount));
        await survivor.AckAsync(claimed);
        await Task.Delay(400);
        Assert.Empty(await survivor.ReadAsync(100, TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task APoisonRecordGoesToTheDeadLetterStreamWithItsReason()
    {
        var log = Log(new EventLogOptions { ClaimAfter = TimeSpan.FromMilliseconds(100) });
        await log.AppendAsync(Records(3));
        await using var consumer = log.CreateConsumer("processor", "p-1");
        var read = await consumer.ReadAsync(10, TimeSpan.FromSeconds(1));

        await consumer.DeadLetterAsync(read[1], "undecodable: not a LoggedUsageEvent");
        await consumer.AckAsync([read[0], read[2]]);

        var dead = await connection.GetDatabase().StreamRangeAsync("tokage.usage.v1.dlq");
        var entry = Assert.Single(dead);
        Assert.Equal("undecodable: not a LoggedUsageEvent", entry["reason"].ToString());
        Assert.Equal(read[1].Position, entry["position"].ToString());
        Assert.Equal(read[1].Value, (byte[])entry["v"]!);
        await Task.Delay(200);
        Assert.Empty(await consumer.ReadAsync(10, TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task AServerThatDoesNotFsyncEveryWriteIsRefusedAsALog()
    {
        await using var lax = await RedisProcess.StartAsync("--appendfsync", "everysec");
        await using var laxConnection = await ConnectionMultiplexer.ConnectAsync(lax.ConnectionString + ",allowAdmin=true");
        var log = new RedisStreamsEventLog(laxConnection, new EventLogOptions(), NullLogger<RedisStreamsEventLog>.Instance);

        var health = await log.CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, health.Status);
        Assert.Contains("appendfsync=everysec", health.Description);
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy,
            (await Log().CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext())).Status);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => log.AppendAsync(Records(1)));
        Assert.Contains("appendfsync=everysec", error.Message);
        Assert.Contains("appendfsync always", error.Message);
        Assert.Equal(0L, await laxConnection.GetDatabase().StreamLengthAsync("tokage.usage.v1"));
    }

    [Fact]
    public async Task WithRedisGoneAnAppendFailsWithinTheAckTimeoutAndNothingIsClaimedDone()
    {
        var log = Log(new EventLogOptions { AckTimeout = TimeSpan.FromSeconds(1) });
        await log.AppendAsync(Records(1));
        await redis.StopAsync();
        try
        {
            var started = DateTime.UtcNow;
            await Assert.ThrowsAsync<EventLogUnavailableException>(() => log.AppendAsync(Records(5, "lost")));
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(6));
        }
        finally
        {
            await redis.RestartAsync();
        }

        // The AOF kept what was acknowledged before the stop.
        await TestWait.UntilAsync(() => connection.IsConnected, TimeSpan.FromSeconds(10));
        var entries = await connection.GetDatabase().StreamRangeAsync("tokage.usage.v1");
        Assert.Contains(entries, e => ((byte[])e["v"]!).AsSpan().StartsWith("e-0"u8));
    }
}

internal static class TestWait
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(condition(), "condition not met in time");
    }
}
