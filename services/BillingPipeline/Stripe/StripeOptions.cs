namespace Tokage.BillingPipeline.Stripe;

/// <summary>Bound from <c>Tokage:Stripe</c>: how meter events reach Stripe.</summary>
public sealed class StripeOptions
{
    public const string SectionName = "Tokage:Stripe";

    /// <summary>
    /// The key tenants' Stripe secret keys are encrypted with (AES-256-GCM): 32 bytes in base64. Without it no tenant can
    /// connect Stripe (the API says so). Deployments set <c>Tokage__Stripe__KeyEncryptionKey</c> from a secret.
    /// </summary>
    public string KeyEncryptionKey { get; set; } = "";

    /// <summary>Stripe's API base (Stripe.net's <c>apiBase</c>); null for Stripe's own. Tests point it at a local fake.</summary>
    public Uri? ApiBase { get; set; }

    /// <summary>How often the hours' quantities are compared with what was sent, and due events are sent.</summary>
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How far back hours are compared (late usage within it is sent as a further event for its hour).</summary>
    public TimeSpan Lookback { get; set; } = TimeSpan.FromHours(48);

    /// <summary>An hour is sent once it ended this long ago (events still on their way in the log).</summary>
    public TimeSpan HourSettle { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Attempts before a meter event is parked; 429 and 5xx are retried, other 4xx park it at once.</summary>
    public int MaxAttempts { get; set; } = 10;

    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a claimed event stays a sender's before another may take it (a crash mid-send).</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(1);
}
