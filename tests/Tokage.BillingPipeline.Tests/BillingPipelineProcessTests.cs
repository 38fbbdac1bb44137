using Tokage.Webhooks;
using System.Text.Json.Nodes;
using Tokage.BillingPipeline.Budgets;

namespace Tokage.BillingPipeline.Tests;

/// <summary>The evaluator as deployed: billing-pipeline processes, replicas and a restart. A stack of its own, so these processes act on no other test's tenants.</summary>
public sealed class BillingPipelineProcessTests(BudgetFixture fixture) : IClassFixture<BudgetFixture>
{
    [Fact]
    public async Task TwoBillingPipelineProcessesAndARestartAlertOncePerThreshold()
    {
        using var receiver = new WebhookReceiver();
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("budget-processes"))["tenant_id"]!;
        var budget = await fixture.Stack.PostAsync($"/v1/tenants/{tenant}/budgets", new
        {
            name = "team-cap",
            scope = new { kind = "team", value = "ml" },
            period = "daily",
            time_zone = "America/New_York",
            amount_usd = 4,
            channels = new[] { new { kind = "webhook", url = receiver.Url } },
        });
        await fixture.WriteSpendAsync(tenant, "p", 2.5m, team: "ml");

        var first = await fixture.StartBillingPipelineAsync();
        var second = await fixture.StartBillingPipelineAsync();
        await ControlPlaneStack.EventuallyAsync(() => Task.FromResult(receiver.Received.Count >= 1), TimeSpan.FromSeconds(30), "the 50% alert arrived");

        await first.KillAsync();
        await fixture.WriteSpendAsync(tenant, "p", 1m, team: "ml");
        var restarted = await fixture.StartBillingPipelineAsync();
        await ControlPlaneStack.EventuallyAsync(() => Task.FromResult(receiver.Received.Count >= 2), TimeSpan.FromSeconds(30), "the 80% alert arrived");

        // Both keep evaluating every second: nothing more may come.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal([50, 80], receiver.Received.Select(r => (int)JsonNode.Parse(r.Body)!["threshold"]!).Order());
        Assert.All(receiver.Received, r => Assert.True(WebhookSignature.Verify((string)budget["signing_secret"]!, r.Signature!, r.Body)));
        Assert.Equal([50, 80], await BudgetEvaluatorTests.AlertThresholdsAsync(fixture, tenant));
        Assert.NotNull(second);
        Assert.NotNull(restarted);
    }
}
