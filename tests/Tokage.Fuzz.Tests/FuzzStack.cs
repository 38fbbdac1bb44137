using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using StackExchange.Redis;
using Tokage.Contracts.V1;

namespace Tokage.Fuzz.Tests;

/// <summary>
/// One stack for the whole suite: PostgreSQL, Redis, control plane, auth and one ingestion instance, a tenant to
/// fuzz as (its ingest key, a read-only key and a revoked one), the corpus settings, and the reports so far.
/// </summary>
public sealed class FuzzStack : IAsyncLifetime
{
    /// <summary>The durable log's stream, where an accepted event would be.</summary>
    private const string EventLogStream = "tokage.usage.v1";

    private readonly ConcurrentDictionary<string, EndpointReport> reports = new();

    public ControlPlaneStack Services { get; } = new();

    public ServiceProcess Ingestion { get; private set; } = null!;

    public string TenantId { get; private set; } = null!;

    public FuzzKeySet Keys { get; private set; } = null!;

    public FuzzSettings Settings { get; } = FuzzSettings.FromEnvironment(DateTimeOffset.UtcNow);

    private ConnectionMultiplexer redis = null!;

    public async Task InitializeAsync()
    {
        await Services.InitializeAsync();
        Ingestion = await Services.StartIngestionAsync();
        var tenant = await Services.CreateTenantAsync("fuzz");
        TenantId = (string)tenant["tenant_id"]!;
        var readOnly = await Services.PostAsync("/v1/tenants/fuzz/keys", new { name = "read-only", scopes = new[] { "read" } });
        var revoked = await Services.PostAsync("/v1/tenants/fuzz/keys", new { name = "revoked", scopes = new[] { "ingest" } });
        await Services.PostAsync($"/v1/tenants/fuzz/keys/{revoked["id"]}/revoke", new { });
        Keys = new FuzzKeySet((string)tenant["api_key"]!, (string)readOnly["api_key"]!, (string)revoked["api_key"]!);
        redis = await ConnectionMultiplexer.ConnectAsync(Services.Redis.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        if (redis is not null)
        {
            await redis.DisposeAsync();
        }

        await Services.DisposeAsync();
    }

    public FuzzRunner Runner() => new(Ingestion.HttpUri, Ingestion.GrpcUri, Keys);

    public HttpClient Client()
    {
        var http = new HttpClient { BaseAddress = Ingestion.HttpUri };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Keys.Valid);
        return http;
    }

    /// <summary>The ids of every event the log holds for the fuzz tenant.</summary>
    public async Task<HashSet<string>> LoggedEventIdsAsync() =>
        (await redis.GetDatabase().StreamRangeAsync(EventLogStream))
            .Select(entry => LoggedUsageEvent.Parser.ParseFrom((byte[])entry["v"]!))
            .Where(logged => logged.TenantId == TenantId)
            .Select(logged => logged.Event.EventId)
            .ToHashSet();

    /// <summary>
    /// Keeps <paramref name="report"/> and rewrites <c>.tokage/fuzz/report.md</c> at the repository root with every
    /// endpoint reported so far; returns the file's path.
    /// </summary>
    public string Record(EndpointReport report)
    {
        reports[report.Endpoint] = report;
        var ordered = FuzzEndpoints.All.Where(reports.ContainsKey).Select(e => reports[e]);
        var note = $"`dotnet test tests/Tokage.Fuzz.Tests -c Release`{(Settings.IsFull ? $" with `{FuzzSettings.EnvironmentVariable}=full`" : "")}; " +
            $"{reports.Count} of {FuzzEndpoints.All.Count} endpoints. Every input must be refused: 4xx (or a gRPC error that is not a server error) " +
            "with a message, or for OTLP a partial_success naming every refused span; nothing may be stored.";
        var path = Path.Combine(TestAssets.Path("RepositoryRoot"), ".tokage", "fuzz", "report.md");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, FuzzReportMarkdown.Render(ordered, Settings, note), Encoding.UTF8);
        return path;
    }
}
