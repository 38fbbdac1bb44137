namespace Tokage.BillingPipeline.Budgets;

public sealed class BudgetOptions
{
    public const string SectionName = "Tokage:Budgets";

    /// <summary>How often every budget's spend is read and its deliveries retried.</summary>
    public TimeSpan EvaluationInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts per delivery before it is marked failed.</summary>
    public int MaxDeliveryAttempts { get; set; } = 6;

    /// <summary>The first retry's delay; each next one doubles, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a claimed delivery stays an evaluator's before another may take it (a crash mid-send).</summary>
    public TimeSpan DeliveryLease { get; set; } = TimeSpan.FromMinutes(1);
    public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
