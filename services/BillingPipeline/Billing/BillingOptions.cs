namespace Tokage.BillingPipeline.Billing;

public sealed class BillingOptions
{
    public const string SectionName = "Tokage:Billing";

    /// <summary>Lets an operator act for any tenant with <c>?tenant=&lt;id&gt;</c>; the shared admin token in the AppHost.</summary>
    public string AdminToken { get; set; } = "";

    /// <summary>How often drafts are refreshed, ended periods issued and days closed.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long after its end an issued period may still receive usage (the ingest's backdating window, 35 days): its late usage becomes adjustment lines.</summary>
    public TimeSpan LateUsageWindow { get; set; } = TimeSpan.FromDays(35);

    /// <summary>Invoices issued in one transaction (they share the tenant's numbering lock).</summary>
    public int IssueBatchSize { get; set; } = 500;

    /// <summary>How far back daily statements are closed when a tenant has none yet.</summary>
    public int StatementLookbackDays { get; set; } = 35;

    /// <summary>Webhook deliveries of billing events: attempts before one is marked failed, the first retry's delay (doubling up to the maximum), the claim's lease and each call's timeout.</summary>
    public int WebhookMaxAttempts { get; set; } = 8;
    public TimeSpan WebhookRetryBaseDelay { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan WebhookMaxRetryDelay { get; set; } = TimeSpan.FromHours(1);
    public TimeSpan WebhookLease { get; set; } = TimeSpan.FromMinutes(2);
    public TimeSpan WebhookTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a daily export's objects are kept write-once (S3 Object Lock retention from the day's start).</summary>
    public TimeSpan ExportRetention { get; set; } = TimeSpan.FromDays(400);
}
