using Microsoft.Extensions.Options;

namespace Tokage.BillingPipeline.Budgets;

/// <summary>Runs <see cref="BudgetEvaluator"/> every <see cref="BudgetOptions.EvaluationInterval"/>; a failed pass is logged and the next one tries again.</summary>
internal sealed class BudgetEvaluatorService(BudgetEvaluator evaluator, IOptions<BudgetOptions> options, ILogger<BudgetEvaluatorService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.EvaluationInterval);
        do
        {
            try
            {
                await evaluator.RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "A budget evaluation pass failed.");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
