using Tokage.Webhooks;
using ClickHouse.Driver;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.Analytics;
using Tokage.Analytics.Queries;
using Tokage.Analytics.Schema;
using Tokage.BillingPipeline.Budgets;
using Tokage.Integrations;

namespace Tokage.BillingPipeline.Tests;

/// <summary>The control plane's stack (real PostgreSQL, migrations, admin API) and a ClickHouse-local host with the usage schema.</summary>
public sealed class BudgetFixture : IAsyncLifetime
{
    private readonly HostFixture clickHouse = new();

    /// <summary>Webhook receivers in these tests listen on loopback, so private networks are allowed here (never in a deployment).</summary>
    public static readonly Dictionary<string, string> AllowLoopbackWebhooks = new() { ["Tokage__Webhooks__AllowPrivateNetworks"] = "true" };

    public ControlPlaneStack Stack { get; } = new() { Settings = AllowLoopbackWebhooks };

    public ClickHouseClient Analytics { get; private set; } = null!;

    public string AnalyticsConnectionString { get; private set; } = "";

    public string ArchivePath { get; } = Path.Combine(Path.GetTempPath(), "tokage-archive-tests", Guid.NewGuid().ToString("N"));

    public UsageEventWriter Writer { get; private set; } = null!;

    /// <summary>Users as the stack's services store and look them up (the stack's pseudonym key).</summary>
    public static readonly Tokage.Analytics.Privacy.PersonalValues Personal =
        new(Options.Create(new Tokage.Analytics.Privacy.DataPolicyOptions { PiiHashKey = ControlPlaneStack.PiiHashKey }));

    /// <summary>As the services connect: the application role, bound by RLS.</summary>
    public NpgsqlDataSource Database { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(ArchivePath);
        await Task.WhenAll(Stack.InitializeAsync(), clickHouse.InitializeAsync());
        var database = "t_" + Guid.NewGuid().ToString("N");
        using (var admin = new ClickHouseClient(clickHouse.Host.ConnectionString))
        {
            await admin.ExecuteNonQueryAsync($"CREATE DATABASE {database}");
        }

        AnalyticsConnectionString = $"{clickHouse.Host.ConnectionString};Database={database}";
        Analytics = new ClickHouseClient(AnalyticsConnectionString);
        await new AnalyticsMigrator(Analytics, Options.Create(new AnalyticsOptions()), NullLogger<AnalyticsMigrator>.Instance).MigrateAsync();
        Writer = new UsageEventWriter(Analytics, Options.Create(new AnalyticsOptions()));
        Database = NpgsqlDataSource.Create(Stack.AppRoleConnectionString);
    }

    /// <summary>An evaluator as the billing pipeline runs it; each one is a replica, a new one a restart.</summary>
    public BudgetEvaluator NewEvaluator(BudgetOptions? options = null, bool allowPrivateNetworks = true) => new(
        Database, new BudgetSpend(new UsageQueries(Analytics, Personal)), TimeProvider.System,
        Options.Create(options ?? new BudgetOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(100) }),
        Options.Create(new WebhookTargetsOptions { AllowPrivateNetworks = allowPrivateNetworks }), NullLogger<BudgetEvaluator>.Instance);

    /// <summary>A billing-pipeline process on this stack, evaluating every second; stopped with the stack.</summary>
    public Task<ServiceProcess> StartBillingPipelineAsync(Dictionary<string, string>? settings = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__analytics"] = AnalyticsConnectionString,
            ["ConnectionStrings__archive"] = $"Provider=FileSystem;Path={ArchivePath}",
            ["Tokage__Budgets__EvaluationInterval"] = "00:00:01",
            ["Tokage__Budgets__RetryBaseDelay"] = "00:00:00.200",
            ["Tokage__Billing__AdminToken"] = ControlPlaneStack.AdminToken,
            ["Tokage__Billing__Interval"] = "00:00:01",
            ["Tokage__ApiKeys__AuthAddress"] = Stack.Auth.GrpcUri.ToString().TrimEnd('/'),
            // As for every service under test on these 2 cores: a first key check may wait behind other suites' builds.
            ["Tokage__ApiKeys__Timeout"] = "00:00:15",
        };
        foreach (var (key, value) in settings ?? [])
        {
            environment[key] = value;
        }

        return Stack.StartServiceAsync("BillingPipeline", environment);
    }

    public Task WriteSpendAsync(string tenantId, string project, decimal costUsd, string team = "") => Writer.WriteEventsAsync(
    [
        new UsageEventRow
        {
            TenantId = tenantId, EventId = Guid.NewGuid().ToString("N"), EventTime = DateTime.UtcNow, IngestTime = DateTime.UtcNow,
            Provider = "openai", Model = "gpt-4o", Project = project, Team = team, InputTokens = 1000, OutputTokens = 100, Priced = true, CostUsd = costUsd,
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
        if (Directory.Exists(ArchivePath))
        {
            Directory.Delete(ArchivePath, recursive: true);
        }
    }
}

internal static class TenantSql
{
    /// <summary>One statement as the application role in a tenant's RLS scope, as the services run theirs.</summary>
    public static Task<int> InTenantAsyncForTests(this NpgsqlDataSource database, Guid tenant, string sql, Guid id) =>
        Tokage.Integrations.TenantTransactions.InTenantAsync(database, tenant, async (connection, transaction) =>
        {
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            command.Parameters.AddWithValue("id", id);
            return await command.ExecuteNonQueryAsync();
        }, CancellationToken.None);
}

/// <summary>
/// The billing outputs' suites (webhooks, exports, reconciliation) share one stack, one after another: each uses tenants
/// of its own, and a stack per class would cost the run its start-up three times over.
/// </summary>
[CollectionDefinition(Name)]
public sealed class BillingOutputsCollection : ICollectionFixture<BudgetFixture>
{
    public const string Name = "billing outputs";
}
