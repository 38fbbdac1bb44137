using ClickHouse.Driver;
using ClickHouse.Driver.Utility;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tokage.Analytics;
using Tokage.Analytics.Queries;
using Tokage.Analytics.Schema;
using Tokage.Contracts.V1;
using Tokage.EventLog;
using Tokage.EventProcessor.Archive;
using Tokage.Analytics.Privacy;
using Tokage.EventProcessor.Processing;
using Tokage.Integrations.ObjectStore;
using Tokage.Pricing;

namespace Tokage.EventProcessor.Tests;

/// <summary>
/// A real Redis (event log and dedupe claims) and a real ClickHouse-local host, shared by a test class; each
/// pipeline gets its own stream, ClickHouse database and archive directory, and each test its own tenant.
/// </summary>
public sealed class ProcessorFixture : IAsyncLifetime
{
    private readonly HostFixture clickHouse = new();

    public RedisProcess Redis { get; private set; } = null!;

    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public ClickHouseLocalProcess ClickHouse => clickHouse.Host;

    public async Task InitializeAsync()
    {
        await clickHouse.InitializeAsync();
        Redis = await RedisProcess.StartAsync();
        Connection = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString + ",allowAdmin=true");
    }

    public async Task DisposeAsync()
    {
        await Connection.DisposeAsync();
        await Redis.DisposeAsync();
        await clickHouse.DisposeAsync();
    }

    public async Task<Pipeline> NewPipelineAsync(IEnumerable<PriceVersion>? prices = null, DataPolicyOptions? policy = null)
    {
        var database = "p_" + Guid.NewGuid().ToString("N");
        using (var admin = new ClickHouseClient(ClickHouse.ConnectionString))
        {
            await admin.ExecuteNonQueryAsync($"CREATE DATABASE {database}");
        }

        // As AddClickHouseClient configures the services: parameters in the body.
        var client = new ClickHouseClient($"{ClickHouse.ConnectionString};Database={database};UseFormDataParameters=true");
        var analytics = Options.Create(new AnalyticsOptions());
        await new AnalyticsMigrator(client, analytics, NullLogger<AnalyticsMigrator>.Instance).MigrateAsync();

        var book = new PriceBook();
        book.Load(prices ?? TestPrices.Versions);
        var archiveRoot = Path.Combine(Path.GetTempPath(), "tokage-processor-tests", Guid.NewGuid().ToString("N"));
        var store = new FileSystemObjectStore(archiveRoot);
        var log = new RedisStreamsEventLog(Connection, new EventLogOptions { Topic = "usage-" + Guid.NewGuid().ToString("N") }, NullLogger<RedisStreamsEventLog>.Instance);
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var processor = new BatchProcessor(
            new DedupeClaims(Connection), new ReservationSettlements(Connection), book, new EventClassifier(Options.Create(policy ?? new DataPolicyOptions())),
            new UsageEventWriter(client, analytics), new EventLookups(client), new ParquetArchive(store),
            Options.Create(new ProcessorOptions()), TimeProvider.System, meters, NullLogger<BatchProcessor>.Instance);
        return new Pipeline(log, processor, client, new EventLookups(client), store, archiveRoot, database);
    }
}

public sealed class Pipeline(RedisStreamsEventLog log, BatchProcessor processor, ClickHouseClient client, EventLookups lookups, FileSystemObjectStore store, string archiveRoot, string database) : IAsyncDisposable
{
    private readonly IEventLogConsumer consumer = log.CreateConsumer("event-processor", "test");

    public BatchProcessor Processor => processor;

    public ClickHouseClient Client => client;

    public EventLookups Lookups => lookups;

    public FileSystemObjectStore Store => store;

    public string ArchiveRoot => archiveRoot;

    public string Database => database;

    public IEventLogConsumer Consumer => consumer;

    public Task AppendAsync(params LoggedUsageEvent[] events) =>
        log.AppendAsync(events.Select(e => new EventLogRecord(e.TenantId, e.ToByteArray())).ToList());

    public Task AppendRawAsync(string key, byte[] value) => log.AppendAsync([new EventLogRecord(key, value)]);

    /// <summary>Everything appended so far and not yet acknowledged (new records, then none).</summary>
    public async Task<IReadOnlyList<ConsumedRecord>> ReadAsync(int max = 1000) => await consumer.ReadAsync(max, TimeSpan.FromSeconds(5));

    public async Task<BatchResult> ReadAndProcessAsync()
    {
        var records = await ReadAsync();
        var result = await processor.ProcessAsync(records, CancellationToken.None);
        await consumer.AckAsync(records);
        return result;
    }

    public async Task<T> ScalarAsync<T>(string sql, string tenantId)
    {
        var parameters = new ClickHouse.Driver.ADO.Parameters.ClickHouseParameterCollection();
        parameters.AddParameter("tenant", tenantId);
        var value = await client.ExecuteScalarAsync(sql, parameters);
        return (T)Convert.ChangeType(value!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await consumer.DisposeAsync();
        client.Dispose();
        HostFixture.TryDelete(archiveRoot);
    }
}

/// <summary>Prices the tests set themselves, so every expected cost is worked out in the test from its rates.</summary>
public static class TestPrices
{
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The day test-sonnet's input price drops from 0.000003 to 0.000002.</summary>
    public static readonly DateTimeOffset Change = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    public static readonly Dictionary<string, string> SonnetBefore = new()
    {
        ["input_cost_per_token"] = "0.000003", ["output_cost_per_token"] = "0.000015",
        ["cache_read_input_token_cost"] = "0.0000003", ["cache_creation_input_token_cost"] = "0.00000375",
    };

    public static readonly Dictionary<string, string> SonnetAfter = new(SonnetBefore) { ["input_cost_per_token"] = "0.000002" };

    public static IReadOnlyList<PriceVersion> Versions { get; } =
    [
        new(1, "test-sonnet", "anthropic", Start, SonnetBefore, "test"),
        new(2, "test-sonnet", "anthropic", Change, SonnetAfter, "test"),
        new(3, "test-mini", "openai", Start, new Dictionary<string, string> { ["input_cost_per_token"] = "0.00000015", ["output_cost_per_token"] = "0.0000006" }, "test"),
    ];
}
