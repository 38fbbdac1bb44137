using Tokage.Integrations;
using Tokage.BillingPipeline.Budgets;

namespace Tokage.BillingPipeline.Extensions;

internal static class Extensions
{
    /// <summary>The engines this service talks to, each with its health check (so /health means ready), and the budget evaluator.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // As the application role: RLS binds every statement to the tenant scope it runs in.
        builder.AddAppRoleDataSource("tokage");
        builder.AddUsageStore("analytics", ownsSchema: false);
        builder.AddObjectStoreClient("archive");

        builder.Services.AddOptions<BudgetOptions>()
            .BindConfiguration(BudgetOptions.SectionName)
            .Validate(o => o.EvaluationInterval > TimeSpan.Zero && o.MaxDeliveryAttempts > 0 && o.RetryBaseDelay > TimeSpan.Zero,
                $"{BudgetOptions.SectionName}: EvaluationInterval and RetryBaseDelay must be positive, MaxDeliveryAttempts at least 1.")
            .ValidateOnStart();
        builder.Services.AddWebhookTargets();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<BudgetEvaluator>();
        builder.Services.AddHostedService<BudgetEvaluatorService>();
    }
}
