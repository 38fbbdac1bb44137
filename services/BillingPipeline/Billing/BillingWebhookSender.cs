using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.Integrations;
using Tokage.Webhooks;

namespace Tokage.BillingPipeline.Billing;

/// <summary>
/// Sends the tenant's due billing-event deliveries: claimed with <c>FOR UPDATE SKIP LOCKED</c> and a lease (a crash
/// mid-send leaves them to the next pass), signed like budget alerts, each attempt recorded, retried with backoff until
/// a 2xx or out of attempts. Every attempt of one event carries the same event id, so a receiver that saw it acts once.
/// </summary>
public sealed class BillingWebhookSender(
    NpgsqlDataSource database, TimeProvider time, IOptions<BillingOptions> options, IOptions<WebhookTargetsOptions> targets, ILogger<BillingWebhookSender> logger)
    : IDisposable
{
    private static readonly Meter Meter = new("Tokage.Billing");
    private static readonly Counter<long> Attempts = Meter.CreateCounter<long>("tokage.billing.webhook.attempts", description: "Billing webhook calls, delivered or failed.");

    // Tenants choose the URLs, so it reaches public addresses only; the outbox decides retries, not a resilience handler.
    private readonly HttpClient http = new(WebhookTargets.Handler(targets.Value)) { Timeout = options.Value.WebhookTimeout };

    /// <summary>Sends what is due for one tenant; returns how many it delivered.</summary>
    public async Task<int> DeliverDueAsync(Guid tenant, CancellationToken ct)
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        // No more than can be sent well within the lease, one after another at the timeout each: a claim never lapses
        // while its delivery is still being sent, so another pass cannot send it twice.
        var limit = (int)Math.Clamp(o.WebhookLease.Ticks / (2 * o.WebhookTimeout.Ticks), 1, 50);
        var claimed = await database.InTenantAsync(tenant, (c, t) => BillingRecords.ReadAsync(c, t, """
            UPDATE billing_webhook_deliveries AS d SET leased_until = @lease, attempts = d.attempts + 1
            FROM (SELECT id FROM billing_webhook_deliveries
                  WHERE status = 'pending' AND next_attempt_at <= @now AND (leased_until IS NULL OR leased_until <= @now)
                  ORDER BY next_attempt_at, created_at LIMIT @limit FOR UPDATE SKIP LOCKED) AS due
            WHERE d.id = due.id
            RETURNING d.id, d.attempts, (SELECT url FROM billing_webhooks w WHERE w.id = d.webhook_id),
                      (SELECT signing_secret FROM billing_webhooks w WHERE w.id = d.webhook_id),
                      (SELECT body FROM billing_events e WHERE e.id = d.event_id), d.event_id
            """, r => (Id: r.GetGuid(0), Attempt: r.GetInt32(1), Url: r.GetString(2), Secret: r.GetString(3), Body: r.GetString(4), EventId: r.GetGuid(5)),
            ct, ("now", now), ("lease", now + o.WebhookLease), ("limit", limit)), ct);

        var delivered = 0;
        foreach (var delivery in claimed.OrderBy(d => d.EventId))
        {
            var call = await SignedWebhook.PostAsync(http, delivery.Url, delivery.Body, delivery.Secret, time.GetUtcNow(), ct, ("Tokage-Event-Id", delivery.EventId.ToString()));
            var (code, error, done) = (call.StatusCode, call.Error, call.Delivered);
            var at = time.GetUtcNow();
            var status = done ? "delivered" : delivery.Attempt >= o.WebhookMaxAttempts ? "failed" : "pending";
            var delay = RetryBackoff.Delay(delivery.Attempt, o.WebhookRetryBaseDelay, o.WebhookMaxRetryDelay);
            await database.InTenantAsync(tenant, (c, t) => BillingRecords.ExecuteAsync(c, t, """
                INSERT INTO billing_webhook_attempts (id, tenant_id, delivery_id, attempt, status_code, error, at) VALUES (@id, @tenant, @delivery, @attempt, @code, @error, @at);
                UPDATE billing_webhook_deliveries SET status = @status, next_attempt_at = @next, leased_until = NULL, last_status_code = @code, last_error = @error,
                    delivered_at = @delivered
                WHERE id = @delivery;
                """, ct, ("id", Guid.CreateVersion7()), ("tenant", tenant), ("delivery", delivery.Id), ("attempt", delivery.Attempt),
                ("code", code is { } c1 ? c1 : DBNull.Value), ("error", error is null ? DBNull.Value : error), ("at", at), ("status", status),
                ("next", at + delay), ("delivered", done ? at : DBNull.Value)), ct);
            Attempts.Add(1, new KeyValuePair<string, object?>("outcome", done ? "delivered" : "failed"));
            if (done)
            {
                delivered++;
            }
            else
            {
                logger.LogWarning("Billing webhook delivery {Delivery} attempt {Attempt} failed ({Status}): {Error}; {Next}.", delivery.Id, delivery.Attempt, code, error,
                    status == "failed" ? "no attempts left" : $"retrying in {delay}");
            }
        }

        return delivered;
    }

    public void Dispose() => http.Dispose();
}
