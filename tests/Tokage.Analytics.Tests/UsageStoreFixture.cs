using ClickHouse.Driver;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tokage.Analytics.Queries;
using Tokage.Analytics.Schema;

namespace Tokage.Analytics.Tests;

/// <summary>One ClickHouse-local host per test class; every store lives in a database of its own.</summary>
public sealed class UsageStoreFixture : IAsyncLifetime
{
    private readonly HostFixture host = new();

    public ClickHouseLocalProcess Host => host.Host;

    public Task InitializeAsync() => host.InitializeAsync();

    public Task DisposeAsync() => host.DisposeAsync();

    /// <summary>A new, empty database with the schema migrated.</summary>
    public async Task<UsageStore> NewStoreAsync(AnalyticsOptions? options = null, bool migrate = true)
    {
        var database = "t_" + Guid.NewGuid().ToString("N");
        using (var admin = new ClickHouseClient(Host.ConnectionString))
        {
            await admin.ExecuteNonQueryAsync($"CREATE DATABASE {database}");
        }

        var store = new UsageStore(new ClickHouseClient($"{Host.ConnectionString};Database={database}"), database, options ?? new AnalyticsOptions());
        if (migrate)
        {
            await store.Migrator.MigrateAsync();
        }

        return store;
    }
}

public sealed class UsageStore(ClickHouseClient client, string database, AnalyticsOptions options) : IDisposable
{
    public ClickHouseClient Client => client;

    public string Database => database;

    public AnalyticsMigrator Migrator { get; } = new(client, Options.Create(options), NullLogger<AnalyticsMigrator>.Instance);

    public UsageEventWriter Writer { get; } = new(client, Options.Create(options));

    public UsageQueries Queries { get; } = new(client);

    public AnalyticsMigrator MigratorWith(AnalyticsOptions other) => new(client, Options.Create(other), NullLogger<AnalyticsMigrator>.Instance);

    public async Task<ulong> CountAsync(string sql) => Convert.ToUInt64(await client.ExecuteScalarAsync(sql));

    public void Dispose() => client.Dispose();
}
