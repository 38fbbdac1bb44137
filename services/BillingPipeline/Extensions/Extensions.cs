using Tokage.Webhooks;
using Tokage.ApiKeys;
using Tokage.BillingPipeline.Billing;
using Tokage.BillingPipeline.Budgets;
using Tokage.BillingPipeline.Reconciliation;
using Tokage.BillingPipeline.Stripe;
using Tokage.Integrations;

namespace Tokage.BillingPipeline.Extensions;

internal static class Extensions
{
    /// <summary>The engines this service talks to (each with its health check, so /health means ready), key resolution, the budget evaluator and billing.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // As the application role: RLS binds every statement to the tenant scope it runs in.
        builder.AddNpgsqlDataSource("tokage");
        builder.Services.AddHealthChecks().AddDatabaseSchemaCheck();
        builder.AddUsageStore("analytics", ownsSchema: false);
        builder.AddObjectStoreClient("archive");
        builder.AddRedisClient("redis");
        builder.AddApiKeyResolver();

        builder.Services.AddOptions<BudgetOptions>()
            .BindConfiguration(BudgetOptions.SectionName)
            .Validate(o => o.EvaluationInterval > TimeSpan.Zero && o.MaxDeliveryAttempts > 0 && o.RetryBaseDelay > TimeSpan.Zero,
                $"{BudgetOptions.SectionName}: EvaluationInterval and RetryBaseDelay must be positive, MaxDeliveryAttempts at least 1.")
            .ValidateOnStart();
        builder.Services.AddWebhookTargets();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<BudgetEvaluator>();
        builder.Services.AddHostedService<BudgetEvaluatorService>();

        builder.Services.AddOptions<BillingOptions>()
            .BindConfiguration(BillingOptions.SectionName)
            .Validate(o => o.Interval > TimeSpan.Zero && o.IssueBatchSize > 0 && o.LateUsageWindow >= TimeSpan.Zero && o.StatementLookbackDays >= 0,
                $"{BillingOptions.SectionName}: Interval and IssueBatchSize must be positive, LateUsageWindow and StatementLookbackDays not negative.")
            .Validate(o => o.WebhookMaxAttempts > 0 && o.WebhookRetryBaseDelay > TimeSpan.Zero && o.WebhookMaxRetryDelay >= o.WebhookRetryBaseDelay
                    && o.WebhookLease > TimeSpan.Zero && o.WebhookTimeout > TimeSpan.Zero && o.ExportRetention > TimeSpan.Zero,
                $"{BillingOptions.SectionName}: WebhookMaxAttempts at least 1; WebhookRetryBaseDelay, WebhookLease and WebhookTimeout positive; WebhookMaxRetryDelay not below the base; ExportRetention positive.")
            .Validate(o => o.AdminToken.Length is 0 or >= AdminToken.MinimumLength,
                $"{BillingOptions.SectionName}:AdminToken must be {AdminToken.MinimumLength} characters or more (or unset).")
            .ValidateOnStart();
        builder.Services.AddSingleton(sp => new AdminToken(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<BillingOptions>>().Value.AdminToken, "The billing API's operator access"));
        builder.Services.AddSingleton<InvoiceEngine>();
        builder.Services.AddSingleton<DailyStatements>();
        builder.Services.AddSingleton<BillingWebhookSender>();
        builder.Services.AddSingleton<DailyExports>();
        builder.Services.AddSingleton<Reconciliations>();
        builder.Services.AddHostedService<BillingWorker>();

        // Stripe meter sync: tenants' keys encrypted with Tokage:Stripe:KeyEncryptionKey; without it, connecting is refused (503).
        builder.Services.AddOptions<StripeOptions>().BindConfiguration(StripeOptions.SectionName)
            .Validate(o => o.SyncInterval > TimeSpan.Zero && o.Lookback > TimeSpan.Zero && o.MaxAttempts > 0 && o.RetryBaseDelay > TimeSpan.Zero && o.Lease > TimeSpan.Zero,
                $"{StripeOptions.SectionName}: SyncInterval, Lookback, RetryBaseDelay and Lease must be positive, MaxAttempts at least 1.")
            .ValidateOnStart();
        builder.Services.AddSingleton<StripeSecretKeys>();
        // The outbox decides retries (every attempt recorded): no resilience handler of its own between it and Stripe.
        builder.Services.AddHttpClient(StripeMeterSync.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(30)).WithoutRequestTimeouts();
        builder.Services.AddSingleton<StripeMeterSync>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StripeMeterSync>());
        builder.Services.AddProblemDetails();
    }
}
