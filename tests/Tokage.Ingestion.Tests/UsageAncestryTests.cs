using StackExchange.Redis;
using Tokage.Ingestion.Otlp;

namespace Tokage.Ingestion.Tests;

/// <summary>Which usage spans repeat usage below them, within one export and across exports, on a real Redis.</summary>
public sealed class UsageAncestryTests : IAsyncLifetime
{
    private const string Tenant = "tenant-a";
    private RedisProcess redis = null!;
    private ConnectionMultiplexer connection = null!;

    public async Task InitializeAsync()
    {
        redis = await RedisProcess.StartAsync();
        connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await connection.DisposeAsync();
        await redis.DisposeAsync();
    }

    [Fact]
    public async Task InOneExportOnlyTheDeepestUsageSpansAreBilled()
    {
        var ancestry = new UsageAncestry(connection);
        // workflow (usage) → agent (no usage) → chat (usage); a second chat beside it; an unrelated root with usage.
        SpanNode[] spans = [new("t1", "workflow", ""), new("t1", "agent", "workflow"), new("t1", "chat-1", "agent"), new("t1", "chat-2", "agent"), new("t1", "lone", "")];

        var wrappers = await ancestry.WrappersAsync(Tenant, spans, [("t1", "workflow"), ("t1", "chat-1"), ("t1", "chat-2"), ("t1", "lone")]);

        Assert.Equal([("t1", "workflow")], wrappers);
    }

    [Fact]
    public async Task AParentArrivingAfterItsChildrenInALaterExportIsNotBilled()
    {
        var ancestry = new UsageAncestry(connection);
        var trace = Guid.NewGuid().ToString("N");

        // Export 1: the model call and the tool span around it (no usage); export 2: the agent root that sums the usage.
        var first = await ancestry.WrappersAsync(Tenant, [new(trace, "chat", "tool"), new(trace, "tool", "agent")], [(trace, "chat")]);
        var second = await ancestry.WrappersAsync(Tenant, [new(trace, "agent", "")], [(trace, "agent")]);
        var otherTenant = await ancestry.WrappersAsync("tenant-b", [new(trace, "agent", "")], [(trace, "agent")]);

        Assert.Empty(first);
        Assert.Equal([(trace, "agent")], second);
        Assert.Empty(otherTenant);
        Assert.True(await connection.GetDatabase().KeyTimeToLiveAsync(UsageAncestry.Key(Tenant, trace)) <= UsageAncestry.Window);
    }
}
