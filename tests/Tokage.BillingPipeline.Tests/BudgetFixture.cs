using ClickHouse.Driver;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.Analytics;
using Tokage.Analytics.Queries;
using Tokage.Analytics.Schema;
using Tokage.BillingPipeline.Budgets;

namespace Tokage.BillingPipeline.Tests;

/// <summary>The control plane's stack (real PostgreSQL, migrations, admin API) and a ClickHouse-local host with the usage schema.</summary>
public sealed class BudgetFixture : IAsyncLifetime
{
    private readonly HostFixture clickHouse = new();

    public ControlPlaneStack Stack { get; } = new();

    public ClickHouseClient Analytics { get; private set; } = null!;

    public UsageEventWriter Writer { get; private set; } = null!;

    /// <summary>As the services connect: the application role, bound by RLS.</summary>
    public NpgsqlDataSource Database { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Stack.InitializeAsync(), clickHouse.InitializeAsync());
        var database = "t_" + Guid.NewGuid().ToString("N");
        using (var admin = new ClickHouseClient(clickHouse.Host.ConnectionString))
        {
            await admin.ExecuteNonQueryAsync($"CREATE DATABASE {database}");
        }

        Analytics = new ClickHouseClient($"{clickHouse.Host.ConnectionString};Database={database}");
        await new AnalyticsMigrator(Analytics, Options.Create(new AnalyticsOptions()), NullLogger<AnalyticsMigrator>.Instance).MigrateAsync();
        Writer = new UsageEventWriter(Analytics, Options.Create(new AnalyticsOptions()));
        Database = NpgsqlDataSource.Create(Stack.AppRoleConnectionString);
    }

    /// <summary>An evaluator as the billing pipeline runs it; each one is a replica, a new one a restart.</summary>
    public BudgetEvaluator NewEvaluator(BudgetOptions? options = null) => new(
        Database, new BudgetSpend(new UsageQueries(Analytics)), TimeProvider.System,
        Options.Create(options ?? new BudgetOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(100) }), NullLogger<BudgetEvaluator>.Instance);

    public Task WriteSpendAsync(string tenantId, string project, decimal costUsd) => Writer.WriteEventsAsync(
    [
        new UsageEventRow
        {
            TenantId = tenantId, EventId = Guid.NewGuid().ToString("N"), EventTime = DateTime.UtcNow, IngestTime = DateTime.UtcNow,
            Provider = "openai", Model = "gpt-4o", Project = project, InputTokens = 1000, OutputTokens = 100, Priced = true, CostUsd = costUsd,
        },
    ]);

    public async Task DisposeAsync()
    {
        if (Database is not null)
        {
            await Database.DisposeAsync();
        }

        Analytics?.Dispose();
        await Stack.DisposeAsync();
        await clickHouse.DisposeAsync();
    }
}
