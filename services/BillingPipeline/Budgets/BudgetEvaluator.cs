using Tokage.Webhooks;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.Analytics.Queries;
using Tokage.Integrations;

namespace Tokage.BillingPipeline.Budgets;

/// <summary>
/// One pass over every active tenant's budgets: reads each budget's period-to-date spend, records an alert for
/// each threshold crossed (the unique key (budget_id, period_start, threshold) and <c>ON CONFLICT DO NOTHING</c>
/// decide which evaluator records it, so replicas and restarts alert once), then sends the deliveries that are
/// due. Deliveries are claimed with <c>FOR UPDATE SKIP LOCKED</c> and a lease, so a crash mid-send leaves them
/// to whichever evaluator comes next. Everything runs in the tenant's RLS scope.
/// </summary>
public sealed class BudgetEvaluator(
    NpgsqlDataSource database, BudgetSpend spend, TimeProvider time, IOptions<BudgetOptions> options, IOptions<WebhookTargetsOptions> webhooks,
    ILogger<BudgetEvaluator> logger) : IDisposable
{
    private static readonly Meter Meter = new("Tokage.Budgets");

    /// <summary>Budget alerts per channel: <c>sent</c>, or <c>failed</c> once out of attempts.</summary>
    private static readonly Counter<long> BudgetAlerts = Meter.CreateCounter<long>("tokage.budget.alerts", description: "Budget alert deliveries that ended: sent, or failed after every attempt.");

    /// <summary>Every webhook call, by its outcome.</summary>
    private static readonly Counter<long> WebhookAttempts = Meter.CreateCounter<long>("tokage.webhook.attempts", description: "Webhook calls (budget alerts), delivered or failed.");

    private static readonly JsonSerializerOptions ChannelJson = new() { PropertyNameCaseInsensitive = true };

    // Its own client: the service defaults' resilience handler would retry inside one recorded attempt. Tenants
    // choose the URLs, so it reaches public addresses only (WebhookTargets).
    private readonly HttpClient http = new(WebhookTargets.Handler(webhooks.Value))
    {
        Timeout = options.Value.DeliveryTimeout,
    };

    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        foreach (var tenant in await Billing.BillingRecords.ActiveTenantsAsync(database, cancellationToken))
        {
            // One tenant's failure (a bad zone, an unreachable store) leaves the others' alerts on time.
            try
            {
                await EvaluateAsync(tenant, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Evaluating the budgets of tenant {Tenant} failed; the next pass tries again.", tenant);
            }

            try
            {
                await DeliverDueAsync(tenant, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Delivering the alerts of tenant {Tenant} failed; the next pass tries again.", tenant);
            }
        }
    }

    private async Task EvaluateAsync(Guid tenant, CancellationToken cancellationToken)
    {
        var budgets = await InTenantAsync(tenant, async (connection, transaction) =>
        {
            await using var command = new NpgsqlCommand(
                "SELECT id, name, scope_kind, scope_value, period, time_zone, amount_usd, thresholds, coalesce(channels::text, '[]'), hard_limit FROM budgets",
                connection, transaction);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var list = new List<BudgetRow>();
            while (await reader.ReadAsync(cancellationToken))
            {
                list.Add(new BudgetRow(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                    reader.GetString(5), reader.GetDecimal(6), reader.GetFieldValue<int[]>(7),
                    JsonSerializer.Deserialize<List<ChannelRow>>(reader.GetString(8), ChannelJson) ?? [], reader.GetBoolean(9)));
            }

            return list;
        }, cancellationToken);

        var now = time.GetUtcNow();
        foreach (var budget in budgets)
        {
            try
            {
                await EvaluateAsync(tenant, budget, now, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Evaluating budget {Budget} of tenant {Tenant} failed; the next pass tries again.", budget.Id, tenant);
            }
        }
    }

    private async Task EvaluateAsync(Guid tenant, BudgetRow budget, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var window = BudgetWindow.Containing(budget.PeriodKind, TimeZoneInfo.FindSystemTimeZoneById(budget.TimeZone), now);
        var spent = await spend.InWindowAsync(tenant.ToString(), budget.Dimension, budget.ScopeValue, window, cancellationToken);
        var crossed = budget.Thresholds.Where(t => spent * 100m >= budget.AmountUsd * t).Order().ToList();
        if (crossed.Count > 0)
        {
            await RecordAlertsAsync(tenant, budget, window, spent, crossed, now, cancellationToken);
        }
    }

    /// <summary>The alert and its deliveries in one transaction: an alert is never recorded without them.</summary>
    private Task<int> RecordAlertsAsync(Guid tenant, BudgetRow budget, BudgetWindow window, decimal spent, List<int> crossed, DateTimeOffset now, CancellationToken cancellationToken) =>
        InTenantAsync(tenant, async (connection, transaction) =>
        {
            var recorded = 0;
            foreach (var threshold in crossed)
            {
                var alertId = Guid.CreateVersion7();
                await using (var insert = new NpgsqlCommand("""
                    INSERT INTO budget_alerts (id, tenant_id, budget_id, period_start, threshold, spend_usd, amount_usd, created_at)
                    VALUES (@id, @tenant, @budget, @start, @threshold, @spend, @amount, @now)
                    ON CONFLICT (budget_id, period_start, threshold) DO NOTHING
                    """, connection, transaction))
                {
                    insert.Parameters.AddWithValue("id", alertId);
                    insert.Parameters.AddWithValue("tenant", tenant);
                    insert.Parameters.AddWithValue("budget", budget.Id);
                    insert.Parameters.AddWithValue("start", window.Start);
                    insert.Parameters.AddWithValue("threshold", threshold);
                    insert.Parameters.AddWithValue("spend", decimal.Round(spent, 6));
                    insert.Parameters.AddWithValue("amount", budget.AmountUsd);
                    insert.Parameters.AddWithValue("now", now);
                    if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
                    {
                        continue;
                    }
                }

                recorded++;
                logger.LogInformation("Budget {Budget} of tenant {Tenant} crossed {Threshold}% ({Spend} of {Amount} USD).", budget.Id, tenant, threshold, spent, budget.AmountUsd);
                for (var i = 0; i < budget.Channels.Count; i++)
                {
                    var channel = budget.Channels[i];
                    await using var delivery = new NpgsqlCommand("""
                        INSERT INTO alert_deliveries (id, tenant_id, alert_id, channel_index, kind, url, body, status, attempts, next_attempt_at)
                        VALUES (@id, @tenant, @alert, @index, @kind, @url, @body, 'pending', 0, @now)
                        """, connection, transaction);
                    delivery.Parameters.AddWithValue("id", Guid.CreateVersion7());
                    delivery.Parameters.AddWithValue("tenant", tenant);
                    delivery.Parameters.AddWithValue("alert", alertId);
                    delivery.Parameters.AddWithValue("index", i);
                    delivery.Parameters.AddWithValue("kind", channel.Kind);
                    delivery.Parameters.AddWithValue("url", channel.Url);
                    delivery.Parameters.AddWithValue("body", AlertBody(channel.Kind, tenant, alertId, budget, window, threshold, spent, now));
                    delivery.Parameters.AddWithValue("now", now);
                    await delivery.ExecuteNonQueryAsync(cancellationToken);
                }
            }

            return recorded;
        }, cancellationToken);

    private async Task DeliverDueAsync(Guid tenant, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        var claimed = await InTenantAsync(tenant, async (connection, transaction) =>
        {
            await using var claim = new NpgsqlCommand("""
                UPDATE alert_deliveries AS d SET leased_until = @lease, attempts = d.attempts + 1
                FROM (SELECT id FROM alert_deliveries
                      WHERE status = 'pending' AND next_attempt_at <= @now AND (leased_until IS NULL OR leased_until <= @now)
                      ORDER BY next_attempt_at LIMIT 50 FOR UPDATE SKIP LOCKED) AS due
                WHERE d.id = due.id
                RETURNING d.id, d.url, d.body, d.attempts,
                          (SELECT b.signing_secret FROM budget_alerts AS a JOIN budgets AS b ON b.id = a.budget_id WHERE a.id = d.alert_id)
                """, connection, transaction);
            claim.Parameters.AddWithValue("now", now);
            claim.Parameters.AddWithValue("lease", now + o.DeliveryLease);
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            var list = new List<(Guid Id, string Url, string Body, int Attempt, string Secret)>();
            while (await reader.ReadAsync(cancellationToken))
            {
                list.Add((reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetString(4)));
            }

            return list;
        }, cancellationToken);

        foreach (var delivery in claimed)
        {
            var call = await SignedWebhook.PostAsync(http, delivery.Url, delivery.Body, delivery.Secret, time.GetUtcNow(), cancellationToken);
            var (statusCode, error, done) = (call.StatusCode, call.Error, call.Delivered);
            var at = time.GetUtcNow();
            var status = done ? "delivered" : delivery.Attempt >= o.MaxDeliveryAttempts ? "failed" : "pending";
            var delay = RetryBackoff.Delay(delivery.Attempt, o.RetryBaseDelay, o.MaxRetryDelay);
            await InTenantAsync(tenant, async (connection, transaction) =>
            {
                await using var record = new NpgsqlCommand("""
                    INSERT INTO alert_delivery_attempts (id, tenant_id, delivery_id, attempt, status_code, error, at)
                    VALUES (@id, @tenant, @delivery, @attempt, @code, @error, @at);
                    UPDATE alert_deliveries SET status = @status, next_attempt_at = @next, leased_until = NULL, delivered_at = @delivered
                    WHERE id = @delivery;
                    """, connection, transaction);
                record.Parameters.AddWithValue("id", Guid.CreateVersion7());
                record.Parameters.AddWithValue("tenant", tenant);
                record.Parameters.AddWithValue("delivery", delivery.Id);
                record.Parameters.AddWithValue("attempt", delivery.Attempt);
                record.Parameters.AddWithValue("code", statusCode is { } c ? c : DBNull.Value);
                record.Parameters.AddWithValue("error", error is null ? DBNull.Value : error);
                record.Parameters.AddWithValue("at", at);
                record.Parameters.AddWithValue("status", status);
                record.Parameters.AddWithValue("next", at + delay);
                record.Parameters.AddWithValue("delivered", done ? at : DBNull.Value);
                return await record.ExecuteNonQueryAsync(cancellationToken);
            }, cancellationToken);

            WebhookAttempts.Add(1, new KeyValuePair<string, object?>("outcome", done ? "delivered" : "failed"));
            if (status != "pending")
            {
                BudgetAlerts.Add(1, new KeyValuePair<string, object?>("outcome", done ? "sent" : "failed"));
            }

            if (!done)
            {
                logger.LogWarning("Alert delivery {Delivery} attempt {Attempt} failed ({Status}): {Error}; {Next}.", delivery.Id, delivery.Attempt,
                    statusCode, error, status == "failed" ? "no attempts left" : $"retrying in {delay}");
            }
        }
    }

    internal static string AlertBody(string kind, Guid tenant, Guid alertId, BudgetRow budget, BudgetWindow window, int threshold, decimal spent, DateTimeOffset at)
    {
        var spend = Money(spent);
        var amount = Money(budget.AmountUsd);
        if (kind == "slack")
        {
            var scope = budget.ScopeKind == "Tenant" ? "the whole tenant" : $"{budget.ScopeKind.ToLowerInvariant()} '{budget.ScopeValue}'";
            return new JsonObject
            {
                ["text"] = $"Tokage budget '{budget.Name}' ({scope}) reached {threshold}% of its {budget.Period.ToLowerInvariant()} ${amount}: ${spend} spent since {window.Start:yyyy-MM-dd HH:mm} UTC.",
            }.ToJsonString();
        }

        return new JsonObject
        {
            ["type"] = "budget.threshold_crossed",
            ["alert_id"] = alertId.ToString(),
            ["tenant_id"] = tenant.ToString(),
            ["budget_id"] = budget.Id.ToString(),
            ["budget"] = budget.Name,
            ["scope"] = new JsonObject { ["kind"] = budget.ScopeKind.ToLowerInvariant(), ["value"] = budget.ScopeKind == "Tenant" ? null : budget.ScopeValue },
            ["period"] = budget.Period.ToLowerInvariant(),
            ["time_zone"] = budget.TimeZone,
            ["period_start"] = window.Start.ToString("O", CultureInfo.InvariantCulture),
            ["period_end"] = window.End.ToString("O", CultureInfo.InvariantCulture),
            ["threshold"] = threshold,
            ["amount_usd"] = amount,
            ["spend_usd"] = spend,
            ["hard_limit"] = budget.HardLimit,
            ["created_at"] = at.ToString("O", CultureInfo.InvariantCulture),
        }.ToJsonString();
    }

    // Exact decimal strings, without the storage scale's trailing zeros.
    private static string Money(decimal amount) => (decimal.Round(amount, 6) / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);

    private Task<T> InTenantAsync<T>(Guid tenant, Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, CancellationToken cancellationToken) =>
        database.InTenantAsync(tenant, work, cancellationToken);

    public void Dispose() => http.Dispose();

    internal sealed record ChannelRow(string Kind, string Url);

    internal sealed record BudgetRow(
        Guid Id, string Name, string ScopeKind, string ScopeValue, string Period, string TimeZone, decimal AmountUsd, int[] Thresholds,
        List<ChannelRow> Channels, bool HardLimit)
    {
        public BudgetPeriodKind PeriodKind => Enum.Parse<BudgetPeriodKind>(Period, ignoreCase: true);

        public UsageDimension? Dimension => BudgetScope.Dimension(ScopeKind);
    }
}
