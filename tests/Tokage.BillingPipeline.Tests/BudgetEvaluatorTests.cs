using Tokage.Webhooks;
using System.Text.Json.Nodes;
using Npgsql;
using Tokage.BillingPipeline.Budgets;

namespace Tokage.BillingPipeline.Tests;

public sealed class BudgetEvaluatorTests(BudgetFixture fixture) : IClassFixture<BudgetFixture>
{
    [Fact]
    public async Task EachThresholdAlertsOnceAcrossReplicasAndARestart()
    {
        using var receiver = new WebhookReceiver();
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("budget-once"))["tenant_id"]!;
        var budget = await fixture.Stack.PostAsync($"/v1/tenants/{tenant}/budgets", new
        {
            name = "checkout",
            scope = new { kind = "project", value = "checkout" },
            period = "monthly",
            amount_usd = "10",
            channels = new[] { new { kind = "webhook", url = receiver.Url } },
        });
        var secret = (string)budget["signing_secret"]!;

        await fixture.WriteSpendAsync(tenant, "checkout", 5.5m);
        await fixture.WriteSpendAsync(tenant, "search", 100m); // another project: not this budget's spend

        var first = fixture.NewEvaluator();
        var second = fixture.NewEvaluator();
        await Task.WhenAll(first.RunOnceAsync(CancellationToken.None), second.RunOnceAsync(CancellationToken.None));
        await Task.WhenAll(first.RunOnceAsync(CancellationToken.None), second.RunOnceAsync(CancellationToken.None));
        Assert.Equal([50], await AlertThresholdsAsync(tenant));

        await fixture.WriteSpendAsync(tenant, "checkout", 3m);
        first.Dispose();
        var restarted = fixture.NewEvaluator();
        await Task.WhenAll(restarted.RunOnceAsync(CancellationToken.None), second.RunOnceAsync(CancellationToken.None));
        await Task.WhenAll(restarted.RunOnceAsync(CancellationToken.None), second.RunOnceAsync(CancellationToken.None));
        restarted.Dispose();
        second.Dispose();

        Assert.Equal([50, 80], await AlertThresholdsAsync(tenant));
        var received = receiver.Received.ToList();
        Assert.Equal(2, received.Count);
        Assert.All(received, r => Assert.True(WebhookSignature.Verify(secret, r.Signature!, r.Body), $"signature {r.Signature} for {r.Body}"));
        Assert.False(WebhookSignature.Verify(secret, received[0].Signature!, received[0].Body + " "));
        Assert.False(WebhookSignature.Verify("whsec_other", received[0].Signature!, received[0].Body));

        var bodies = received.Select(r => JsonNode.Parse(r.Body)!).OrderBy(b => (int)b["threshold"]!).ToList();
        Assert.Equal([50, 80], bodies.Select(b => (int)b["threshold"]!));
        Assert.Equal("budget.threshold_crossed", (string)bodies[0]["type"]!);
        Assert.Equal("5.5", (string)bodies[0]["spend_usd"]!);
        Assert.Equal("8.5", (string)bodies[1]["spend_usd"]!);
        Assert.Equal("10", (string)bodies[1]["amount_usd"]!);
        Assert.Equal("checkout", (string)bodies[1]["scope"]!["value"]!);
        var monthStart = new DateTimeOffset(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(monthStart, DateTimeOffset.Parse((string)bodies[0]["period_start"]!, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The processor stores an e-mail-like user id pseudonymised: a budget naming the user as the app sends it still sees her spend.</summary>
    [Fact]
    public async Task AUserBudgetSeesThePseudonymisedUsersSpend()
    {
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("budget-pii"))["tenant_id"]!;
        await fixture.Stack.PostAsync($"/v1/tenants/{tenant}/budgets", new
        {
            name = "alice", scope = new { kind = "user", value = "alice@example.com" }, period = "monthly", amount_usd = "10", hard_limit = true,
        });
        var stored = Tokage.Analytics.Privacy.PersonalValues.Pseudonym(ControlPlaneStack.PiiHashKey, tenant, "alice@example.com");
        await fixture.Writer.WriteEventsAsync([new Tokage.Analytics.UsageEventRow
        {
            TenantId = tenant, EventId = Guid.NewGuid().ToString("N"), EventTime = DateTime.UtcNow, IngestTime = DateTime.UtcNow,
            Provider = "openai", Model = "gpt-4o", UserId = stored, Priced = true, CostUsd = 9m,
        }]);

        using var evaluator = fixture.NewEvaluator();
        await evaluator.RunOnceAsync(CancellationToken.None);

        Assert.Equal([50, 80], await AlertThresholdsAsync(tenant));
    }

    [Fact]
    public async Task AFailingReceiverIsRetriedAndEveryAttemptRecorded()
    {
        using var receiver = new WebhookReceiver(failFirst: 2);
        using var slack = new WebhookReceiver();
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("budget-retries"))["tenant_id"]!;
        await fixture.Stack.PostAsync($"/v1/tenants/{tenant}/budgets", new
        {
            name = "daily-cap",
            period = "daily",
            amount_usd = 1,
            thresholds = new[] { 100 },
            channels = new[] { new { kind = "webhook", url = receiver.Url }, new { kind = "slack", url = slack.Url } },
        });
        await fixture.WriteSpendAsync(tenant, "any", 2.25m);

        using var evaluator = fixture.NewEvaluator();
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            await evaluator.RunOnceAsync(CancellationToken.None);
            return await ScalarAsync<string>(tenant, "SELECT status FROM alert_deliveries WHERE channel_index = 0") == "delivered";
        }, TimeSpan.FromSeconds(30), "the delivery succeeded");

        Assert.Equal([500, 500, 200], receiver.Received.Select(r => r.Answered));
        var attempts = await RowsAsync(tenant, """
            SELECT a.attempt, a.status_code FROM alert_delivery_attempts AS a JOIN alert_deliveries AS d ON d.id = a.delivery_id
            WHERE d.channel_index = 0 ORDER BY a.attempt
            """);
        Assert.Equal([(1, 500), (2, 500), (3, 200)], attempts);
        Assert.Equal(3, await ScalarAsync<int>(tenant, "SELECT attempts FROM alert_deliveries WHERE channel_index = 0"));

        var text = (string)JsonNode.Parse(Assert.Single(slack.Received).Body)!["text"]!;
        Assert.Contains("'daily-cap'", text);
        Assert.Contains("100%", text);
        Assert.Contains("$2.25", text);
        Assert.Equal(1, await ScalarAsync<long>(tenant, "SELECT count(*) FROM budget_alerts"));

        // The control plane's alert history (what the console's budgets page shows) tells the same story.
        var history = await fixture.Stack.GetAsync($"/v1/tenants/{tenant}/budgets/daily-cap/alerts");
        var alert = Assert.Single(history["alerts"]!.AsArray())!;
        Assert.Equal(100, (int)alert["threshold"]!);
        Assert.Equal("2.25", (string)alert["spend_usd"]!);
        var webhook = alert["deliveries"]![0]!;
        Assert.Equal("delivered", (string)webhook["status"]!);
        Assert.Equal([500, 500, 200], webhook["history"]!.AsArray().Select(a => (int)a!["status_code"]!));
        Assert.Null(webhook["url"]);
    }

    [Fact]
    public async Task AnUnreachableReceiverRunsOutOfAttemptsWithEachErrorRecorded()
    {
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("budget-unreachable"))["tenant_id"]!;
        await fixture.Stack.PostAsync($"/v1/tenants/{tenant}/budgets", new
        {
            name = "nobody-listens",
            period = "monthly",
            amount_usd = 1,
            thresholds = new[] { 50 },
            channels = new[] { new { kind = "webhook", url = $"http://127.0.0.1:{ChildProcess.FreePort()}/hook" } },
        });
        await fixture.WriteSpendAsync(tenant, "any", 0.75m);

        using var evaluator = fixture.NewEvaluator(new BudgetOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50), MaxDeliveryAttempts = 3 });
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            await evaluator.RunOnceAsync(CancellationToken.None);
            return await ScalarAsync<string>(tenant, "SELECT status FROM alert_deliveries") == "failed";
        }, TimeSpan.FromSeconds(30), "the delivery ran out of attempts");

        await evaluator.RunOnceAsync(CancellationToken.None);
        Assert.Equal(3L, await ScalarAsync<long>(tenant, "SELECT count(*) FROM alert_delivery_attempts WHERE status_code IS NULL AND error <> ''"));
        Assert.Equal(3, await ScalarAsync<int>(tenant, "SELECT attempts FROM alert_deliveries"));
    }

    [Fact]
    public async Task ADeployedEvaluatorNeverCallsIntoOurOwnNetwork()
    {
        // The control plane here allows loopback URLs (as local development does); a deployed evaluator does not.
        using var receiver = new WebhookReceiver();
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("budget-ssrf"))["tenant_id"]!;
        await fixture.Stack.PostAsync($"/v1/tenants/{tenant}/budgets", new
        {
            name = "inward", period = "daily", amount_usd = 1, thresholds = new[] { 100 },
            channels = new[] { new { kind = "webhook", url = receiver.Url.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) } },
        });
        await fixture.WriteSpendAsync(tenant, "any", 1.5m);

        using var evaluator = fixture.NewEvaluator(new BudgetOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50), MaxDeliveryAttempts = 2 }, allowPrivateNetworks: false);
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            await evaluator.RunOnceAsync(CancellationToken.None);
            return await ScalarAsync<string>(tenant, "SELECT status FROM alert_deliveries") == "failed";
        }, TimeSpan.FromSeconds(30), "the delivery ran out of attempts");

        Assert.Empty(receiver.Received);
        var error = await ScalarAsync<string>(tenant, "SELECT error FROM alert_delivery_attempts ORDER BY attempt LIMIT 1");
        Assert.Contains("Webhook host 'localhost' has no public address", error);
    }

    internal static async Task<List<int>> AlertThresholdsAsync(BudgetFixture fixture, string tenant) =>
        [.. (await RowsAsync(fixture, tenant, "SELECT threshold, 0 FROM budget_alerts ORDER BY threshold")).Select(r => r.Item1)];

    private async Task<List<int>> AlertThresholdsAsync(string tenant) =>
        [.. (await RowsAsync(tenant, "SELECT threshold, 0 FROM budget_alerts ORDER BY threshold")).Select(r => r.Item1)];

    private async Task<T> ScalarAsync<T>(string tenant, string sql)
    {
        await using var connection = await OpenScopedAsync(fixture, tenant);
        await using var command = new NpgsqlCommand(sql, connection.Connection, connection.Transaction);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private Task<List<(int, int)>> RowsAsync(string tenant, string sql) => RowsAsync(fixture, tenant, sql);

    private static async Task<List<(int, int)>> RowsAsync(BudgetFixture fixture, string tenant, string sql)
    {
        await using var connection = await OpenScopedAsync(fixture, tenant);
        await using var command = new NpgsqlCommand(sql, connection.Connection, connection.Transaction);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(int, int)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetInt32(0), reader.GetInt32(1)));
        }

        return rows;
    }

    private static async Task<Scoped> OpenScopedAsync(BudgetFixture fixture, string tenant)
    {
        var connection = await fixture.Database.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var scope = new NpgsqlCommand($"SELECT set_config('tokage.tenant_id', '{tenant}', true)", connection, transaction);
        await scope.ExecuteScalarAsync();
        return new Scoped(connection, transaction);
    }

    private sealed record Scoped(NpgsqlConnection Connection, NpgsqlTransaction Transaction) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
    }
}
