using System.Net.Http.Headers;
using ClickHouse.Driver;
using ClickHouse.Driver.Utility;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Tokage.Contracts.V1;
using Tokage.EventLog;

namespace Tokage.Testing;

/// <summary>
/// The whole processing path as real processes: the control-plane stack (PostgreSQL, Redis, control plane, auth),
/// a ClickHouse-local host, the price registry, ingestion, the event processor and the query API, configured as
/// the AppHost configures them. The processor and ingestion can be killed and restarted, ClickHouse and Redis
/// stopped and brought back.
/// </summary>
public sealed class ProcessingStack : IAsyncLifetime
{
    public const string ClickHousePassword = "s3cret";

    /// <summary>The password of the host's read-only user, which the query API connects as.</summary>
    public const string ClickHouseReaderPassword = "r3ader";
    public const string ConsumerName = "processor-under-test";
    public const string ConsumerGroup = "event-processor";

    /// <summary>Every rollup the materialized views feed from <c>usage_events</c>: each must count every stored event once.</summary>
    public static readonly IReadOnlyList<string> Rollups = ["usage_hourly", "usage_daily", "usage_daily_compact", "usage_daily_user", "usage_hourly_customer"];

    private readonly List<IAsyncDisposable> owned = [];
    private ConnectionMultiplexer? logConnection;

    /// <summary>Environment every service of the stack gets besides its engines, e.g. log levels for a benchmark.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    public ControlPlaneStack Core { get; private set; } = null!;

    public ClickHouseLocalProcess ClickHouse { get; private set; } = null!;

    public string ArchivePath { get; } = Path.Combine(Path.GetTempPath(), "tokage-archive-tests", Guid.NewGuid().ToString("N"));

    public ServiceProcess PriceRegistry { get; private set; } = null!;

    public ServiceProcess Ingestion { get; private set; } = null!;

    public ServiceProcess QueryApi { get; private set; } = null!;

    public ServiceProcess? Processor { get; private set; }

    public ClickHouseClient Analytics { get; private set; } = null!;

    public IEventLog Log { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Core = new ControlPlaneStack { Settings = Settings };
        try
        {
            await Core.InitializeAsync();
            ClickHouse = await ClickHouseLocalProcess.StartAsync(password: ClickHousePassword, readOnlyPassword: ClickHouseReaderPassword);
            Analytics = new ClickHouseClient(ClickHouse.ConnectionString);
            PriceRegistry = await Core.StartServiceAsync("PriceRegistry", new Dictionary<string, string>
            {
                ["ConnectionStrings__tokage"] = Core.PricesRoleConnectionString,
                ["ConnectionStrings__analytics"] = ClickHouse.ConnectionString,
                ["Tokage__PriceRegistry__AdminToken"] = ControlPlaneStack.AdminToken,
                ["Tokage__PriceRegistry__RepricingPoll"] = "00:00:00.300",
                ["Tokage__ApiKeys__AuthAddress"] = Core.Auth.GrpcUri.ToString().TrimEnd('/'),
            });
            Ingestion = await Core.StartIngestionAsync();
            await StartProcessorAsync();
            QueryApi = await StartQueryApiAsync();
            logConnection = await ConnectionMultiplexer.ConnectAsync(Core.Redis.ConnectionString + ",allowAdmin=true");
            Log = new RedisStreamsEventLog(logConnection, new EventLogOptions(), NullLogger<RedisStreamsEventLog>.Instance);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A query API on this stack, reading ClickHouse as the host's read-only user as the AppHost wires it; the first
    /// one is <see cref="QueryApi"/>, more (e.g. with tighter limits in <paramref name="settings"/>) stop with the stack.
    /// </summary>
    public Task<ServiceProcess> StartQueryApiAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__analytics"] = ClickHouse.ReadOnlyConnectionString,
            ["Tokage__QueryApi__AdminToken"] = ControlPlaneStack.AdminToken,
            ["Tokage__ApiKeys__AuthAddress"] = Core.Auth.GrpcUri.ToString().TrimEnd('/'),
            ["Tokage__ApiKeys__Timeout"] = "00:00:15",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        return Core.StartServiceAsync("QueryApi", environment);
    }

    /// <summary>An event processor on this stack (its consumer name kept across restarts, as a pod's would be).</summary>
    public async Task<ServiceProcess> StartProcessorAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var processor = await StartAnotherProcessorAsync(settings);
        Processor = processor;
        return processor;
    }

    /// <summary>
    /// An event processor beside the stack's own (e.g. on another log, with <c>ConnectionStrings__events</c> and a
    /// consumer group of its own in <paramref name="settings"/>); stopped with the stack.
    /// </summary>
    public async Task<ServiceProcess> StartAnotherProcessorAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__events"] = Core.EventLogConnectionString,
            ["ConnectionStrings__analytics"] = ClickHouse.ConnectionString,
            ["ConnectionStrings__archive"] = $"Provider=FileSystem;Path={ArchivePath}",
            ["Tokage__Processor__PriceRegistryAddress"] = PriceRegistry.GrpcUri.ToString().TrimEnd('/'),
            ["Tokage__Processor__ConsumerName"] = ConsumerName,
            ["Tokage__Processor__ConsumerGroup"] = ConsumerGroup,
            ["Tokage__Processor__RetryMax"] = "00:00:02",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        Directory.CreateDirectory(ArchivePath);
        var processor = await ServiceProcess.StartAsync("EventProcessor", Core.Environment.Concat(environment)
            .GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value));
        owned.Add(processor);
        return processor;
    }

    /// <summary>kill -9 of the processor: nothing of its shutdown runs.</summary>
    public async Task KillProcessorAsync()
    {
        if (Processor is { } processor)
        {
            await processor.KillAsync();
            Processor = null;
        }
    }

    /// <summary>kill -9 of ingestion, whatever it has in flight; <see cref="StartIngestionAgainAsync"/> starts a new one (on new ports).</summary>
    public Task KillIngestionAsync() => Ingestion.KillAsync();

    public async Task StartIngestionAgainAsync() => Ingestion = await Core.StartIngestionAsync();

    /// <summary>Takes ClickHouse away (SIGKILL); <see cref="StartClickHouseAgainAsync"/> brings it back on the same data and port.</summary>
    public Task StopClickHouseAsync() => ClickHouse.KillAsync();

    public async Task StartClickHouseAgainAsync()
    {
        var (path, port) = (ClickHouse.DataPath, ClickHouse.Port);
        await ClickHouse.DisposeAsync();
        ClickHouse = await ClickHouseLocalProcess.StartAsync(path, ClickHousePassword, port, ClickHouseReaderPassword);
    }

    /// <summary>Appends records straight to the log, as the ingest does after validating them.</summary>
    public Task AppendAsync(IEnumerable<LoggedUsageEvent> events) =>
        Log.AppendAsync(events.Select(e => new EventLogRecord(e.TenantId, e.ToByteArray())).ToList());

    /// <summary>
    /// Until the tenant has <paramref name="events"/> raw rows and the processor has committed every record it read.
    /// ClickHouse shows an insert's raw rows before its materialized views have written the rollups; the processor
    /// commits a batch only once the whole insert returned, so only then do the rollups hold it too.
    /// </summary>
    public Task WaitUntilStoredAndCommittedAsync(string tenantId, int events, TimeSpan within) =>
        ControlPlaneStack.EventuallyAsync(async () =>
            await CountAsync("SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", tenantId) >= (ulong)events
            && (await logConnection!.GetDatabase().StreamPendingAsync(new EventLogOptions().Topic, ConsumerGroup)).PendingMessageCount == 0,
            within, $"{events} events of tenant {tenantId} are stored and committed");

    /// <summary>Until the processor's group has read the log to its end and has nothing pending.</summary>
    public Task WaitUntilLogConsumedAsync(TimeSpan within) =>
        ControlPlaneStack.EventuallyAsync(async () =>
        {
            var topic = new EventLogOptions().Topic;
            var db = logConnection!.GetDatabase();
            var last = (await db.StreamInfoAsync(topic)).LastGeneratedId;
            var group = (await db.StreamGroupInfoAsync(topic)).Single(g => g.Name == ConsumerGroup);
            return group.LastDeliveredId == last && group.PendingMessageCount == 0;
        }, within, "the processor has read and committed the whole log");

    /// <summary>Deletes every dedupe claim (as a Redis that lost its data has none); returns how many there were.</summary>
    public async Task<int> WipeDedupeClaimsAsync()
    {
        var server = logConnection!.GetServers().Single();
        var deleted = 0;
        await foreach (var key in server.KeysAsync(pattern: DedupeClaims.Key("*", "*")))
        {
            deleted += await logConnection.GetDatabase().KeyDeleteAsync(key) ? 1 : 0;
        }

        return deleted;
    }

    /// <summary>Sets the processor's group back to the log's start: every record is delivered again. Returns the log's length.</summary>
    public async Task<long> ReplayLogFromStartAsync()
    {
        var topic = new EventLogOptions().Topic;
        var db = logConnection!.GetDatabase();
        await db.ExecuteAsync("XGROUP", "SETID", topic, ConsumerGroup, "0");
        return await db.StreamLengthAsync(topic);
    }

    public async Task<ulong> CountAsync(string sql, string tenantId) => Convert.ToUInt64(await ScalarAsync(sql, tenantId));

    public async Task<decimal> SumAsync(string sql, string tenantId) => Convert.ToDecimal(await ScalarAsync(sql, tenantId));

    /// <summary>One value of SQL that binds the tenant as <c>{tenant:String}</c>.</summary>
    private Task<object?> ScalarAsync(string sql, string tenantId)
    {
        var parameters = new ClickHouse.Driver.ADO.Parameters.ClickHouseParameterCollection();
        parameters.AddParameter("tenant", tenantId);
        return Analytics.ExecuteScalarAsync(sql, parameters);
    }

    /// <summary>
    /// What a failed storage assertion needs to be understood: the tenant's events in each table, the tables' parts
    /// and views as ClickHouse has them now, and the tail of the ClickHouse host's and the processor's output.
    /// </summary>
    public async Task<string> DescribeStorageAsync(string tenantId)
    {
        using var http = new HttpClient { BaseAddress = ClickHouse.BaseUri };
        http.DefaultRequestHeaders.Add("X-ClickHouse-User", "default");
        http.DefaultRequestHeaders.Add("X-ClickHouse-Key", ClickHousePassword);
        var tenant = Uri.EscapeDataString(tenantId);
        string[] queries =
        [
            "SELECT 'usage_events' AS t, count() FROM usage_events WHERE tenant_id = {tenant:String}" + string.Concat(
                Rollups.Select(rollup => $" UNION ALL SELECT '{rollup}', sum(events) FROM {rollup} WHERE tenant_id = {{tenant:String}}")),
            "SELECT name, engine, dependencies_table FROM system.tables WHERE database = currentDatabase() ORDER BY name",
            "SELECT table, name, rows, modification_time FROM system.parts WHERE database = currentDatabase() AND active " +
            "ORDER BY modification_time DESC, table LIMIT 30",
        ];
        var report = new System.Text.StringBuilder();
        foreach (var query in queries)
        {
            try
            {
                report.AppendLine(await http.GetStringAsync($"?param_tenant={tenant}&default_format=TSVWithNames&query={Uri.EscapeDataString(query)}"));
            }
            catch (HttpRequestException ex)
            {
                report.AppendLine($"({query}: {ex.Message})");
            }
        }

        static string Tail(string text) => text.Length > 6_000 ? text[^6_000..] : text;
        report.AppendLine("--- ClickHouse host ---").AppendLine(Tail(ClickHouse.Output));
        report.AppendLine("--- processor ---").AppendLine(Tail(Processor?.Output ?? "(not running)"));
        return report.ToString();
    }

    /// <summary>A client of an API-key-authenticated service.</summary>
    public static HttpClient ClientFor(ServiceProcess service, string apiKey)
    {
        var http = new HttpClient { BaseAddress = service.HttpUri };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return http;
    }

    public async Task DisposeAsync()
    {
        foreach (var service in owned)
        {
            await service.DisposeAsync();
        }

        logConnection?.Dispose();
        Analytics?.Dispose();
        if (Core is not null)
        {
            await Core.DisposeAsync();
        }

        if (ClickHouse is not null)
        {
            await ClickHouse.DisposeAsync();
            HostFixture.TryDelete(ClickHouse.DataPath);
        }

        HostFixture.TryDelete(ArchivePath);
    }
}
