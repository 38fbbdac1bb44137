using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using ClickHouse.Driver;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.Analytics;
using Tokage.Analytics.Schema;

namespace Tokage.AuditLog.Tests;

/// <summary>
/// The services that change money-relevant state (control plane, price registry, billing pipeline) on real PostgreSQL,
/// Redis and a ClickHouse-local host, and an audit-log process draining their outbox and sealing ten-second segments to
/// a file-system archive.
/// </summary>
public sealed class AuditFixture : IAsyncLifetime
{
    private readonly HostFixture clickHouse = new();

    public ControlPlaneStack Stack { get; } = new();

    public string ArchivePath { get; } = Path.Combine(Path.GetTempPath(), "tokage-audit-tests", Guid.NewGuid().ToString("N"));

    public ServiceProcess PriceRegistry { get; private set; } = null!;

    public ServiceProcess Billing { get; private set; } = null!;

    public ServiceProcess AuditLog { get; private set; } = null!;

    /// <summary>The audit API as the operator (the admin token).</summary>
    public HttpClient Operator { get; private set; } = null!;

    /// <summary>The database's owner (a superuser here): what an attacker with the database's keys would use.</summary>
    public NpgsqlDataSource Owner { get; private set; } = null!;

    /// <summary>As the changing services connect (the application role).</summary>
    public NpgsqlDataSource AppRole { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(ArchivePath);
        Directory.CreateDirectory(ArchivePath + "-billing");
        await Task.WhenAll(Stack.InitializeAsync(), clickHouse.InitializeAsync());
        var analytics = "t_" + Guid.NewGuid().ToString("N");
        using (var admin = new ClickHouseClient(clickHouse.Host.ConnectionString))
        {
            await admin.ExecuteNonQueryAsync($"CREATE DATABASE {analytics}");
        }

        var analyticsConnection = $"{clickHouse.Host.ConnectionString};Database={analytics}";
        using (var client = new ClickHouseClient(analyticsConnection))
        {
            await new AnalyticsMigrator(client, Options.Create(new AnalyticsOptions()), NullLogger<AnalyticsMigrator>.Instance).MigrateAsync();
        }

        var auth = Stack.Auth.GrpcUri.ToString().TrimEnd('/');
        PriceRegistry = await Stack.StartServiceAsync("PriceRegistry", new Dictionary<string, string>
        {
            ["ConnectionStrings__tokage"] = Stack.PricesRoleConnectionString,
            ["ConnectionStrings__analytics"] = analyticsConnection,
            ["Tokage__PriceRegistry__AdminToken"] = ControlPlaneStack.AdminToken,
            ["Tokage__ApiKeys__AuthAddress"] = auth,
            ["Tokage__ApiKeys__Timeout"] = "00:00:15",
        });
        Billing = await Stack.StartServiceAsync("BillingPipeline", new Dictionary<string, string>
        {
            ["ConnectionStrings__analytics"] = analyticsConnection,
            ["ConnectionStrings__archive"] = $"Provider=FileSystem;Path={ArchivePath}-billing",
            ["Tokage__Billing__AdminToken"] = ControlPlaneStack.AdminToken,
            ["Tokage__Billing__Interval"] = "00:00:01",
            ["Tokage__ApiKeys__AuthAddress"] = auth,
            ["Tokage__ApiKeys__Timeout"] = "00:00:15",
        });
        AuditLog = await StartAuditLogAsync();
        Operator = new HttpClient { BaseAddress = AuditLog.HttpUri };
        Operator.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ControlPlaneStack.AdminToken);
        Owner = NpgsqlDataSource.Create(Stack.Postgres.ConnectionString(ControlPlaneStack.Database));
        AppRole = NpgsqlDataSource.Create(Stack.AppRoleConnectionString);
    }

    /// <summary>An audit-log process (another replica, or a restart) on this stack: ten-second segments, sealed a second after they end.</summary>
    public Task<ServiceProcess> StartAuditLogAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        Directory.CreateDirectory(ArchivePath);
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__tokage"] = DatabaseMigratorProcess.ConnectionString(Stack.Postgres, ControlPlaneStack.Database, DatabaseMigratorProcess.AuditRole),
            ["ConnectionStrings__archive"] = $"Provider=FileSystem;Path={ArchivePath}",
            ["Tokage__Audit__AdminToken"] = ControlPlaneStack.AdminToken,
            ["Tokage__Audit__DrainInterval"] = "00:00:00.200",
            ["Tokage__Audit__SegmentLength"] = "00:00:10",
            ["Tokage__Audit__SealInterval"] = "00:00:01",
            ["Tokage__Audit__SealDelay"] = "00:00:01",
            ["Tokage__ApiKeys__AuthAddress"] = Stack.Auth.GrpcUri.ToString().TrimEnd('/'),
            ["Tokage__ApiKeys__Timeout"] = "00:00:15",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        return Stack.StartServiceAsync("AuditLog", environment);
    }

    /// <summary>Makes <paramref name="replacement"/> the audit-log the other tests talk to (after a test killed the first).</summary>
    public void ReplaceAuditLog(ServiceProcess replacement)
    {
        AuditLog = replacement;
        Operator.Dispose();
        Operator = new HttpClient { BaseAddress = AuditLog.HttpUri };
        Operator.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ControlPlaneStack.AdminToken);
    }

    /// <summary>Every record of a tenant (the operator's view), once the outbox has none of its rows left to drain.</summary>
    public async Task<List<JsonObject>> RecordsAsync(string tenant, string? query = null)
    {
        await DrainedAsync();
        var records = new List<JsonObject>();
        string? cursor = null;
        do
        {
            var page = await GetAsync(Operator, $"/v1/audit?tenant={tenant}&limit=1000{(cursor is null ? "" : "&cursor=" + cursor)}{query}");
            records.AddRange(page["records"]!.AsArray().Select(r => r!.AsObject()));
            cursor = (string?)page["next_cursor"];
        }
        while (cursor is not null);
        return records;
    }

    /// <summary>Waits until every outbox row committed so far is a record.</summary>
    public async Task DrainedAsync()
    {
        await using var connection = await Owner.OpenConnectionAsync();
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            await using var command = new NpgsqlCommand(
                "SELECT (SELECT count(*) FROM audit_outbox) = (SELECT count(*) FROM audit_records)", connection);
            return (bool)(await command.ExecuteScalarAsync())!;
        }, TimeSpan.FromSeconds(60), "the audit outbox drained");
    }

    public static async Task<JsonObject> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task DisposeAsync()
    {
        Operator?.Dispose();
        if (Owner is not null)
        {
            await Owner.DisposeAsync();
        }

        if (AppRole is not null)
        {
            await AppRole.DisposeAsync();
        }

        await Stack.DisposeAsync();
        await clickHouse.DisposeAsync();
        foreach (var path in new[] { ArchivePath, ArchivePath + "-billing" })
        {
            if (Directory.Exists(path))
            {
                foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
                {
                    File.SetAttributes(file, FileAttributes.Normal);
                }

                HostFixture.TryDelete(path);
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AuditCollection : ICollectionFixture<AuditFixture>
{
    public const string Name = "audit";
}
