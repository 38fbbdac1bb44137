using Tokage.Webhooks;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using global::Stripe;
using global::Stripe.Billing;
using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.Analytics.Queries;
using Tokage.Billing.Plans;
using Tokage.BillingPipeline.Billing;
using Tokage.Integrations;

namespace Tokage.BillingPipeline.Stripe;

/// <summary>
/// Sends the quantities of plan charges that name a Stripe meter to Stripe as meter events, per customer (with a
/// <c>stripe_customer_id</c>), charge and UTC hour. Two steps, each its own transaction:
/// <list type="number">
/// <item>Enqueue: for every ended hour of the last <see cref="StripeOptions.Lookback"/>, the hour's quantity from the
/// usage store against the total already enqueued; a larger one adds an outbox row for the difference, with the next
/// sequence number and a deterministic identifier (never a change to a row already there). Replicas take turns under
/// an advisory lock; the unique (customer, charge, hour, seq) makes a double enqueue impossible.</item>
/// <item>Send: due rows are claimed with a lease (<c>FOR UPDATE SKIP LOCKED</c>) and sent through Stripe.net with the
/// identifier as Stripe's idempotency key as well, so a resend after a crash is answered, not counted. 429, 5xx and
/// network errors are retried with backoff; other 4xx park the row with Stripe's message. Every attempt is recorded.</item>
/// </list>
/// </summary>
public sealed class StripeMeterSync(
    NpgsqlDataSource database,
    CustomerUsageQueries usage,
    StripeSecretKeys keys,
    IHttpClientFactory clients,
    IOptions<StripeOptions> options,
    TimeProvider time,
    ILogger<StripeMeterSync> logger) : BackgroundService
{
    public const string HttpClientName = "stripe";

    private static readonly System.Diagnostics.Metrics.Meter Metrics = new("Tokage.BillingPipeline");
    private static readonly Counter<long> Attempts = Metrics.CreateCounter<long>("tokage.stripe.meter_event.attempts", description: "Stripe meter event sends, by outcome (sent, retry, parked).");

    /// <summary>A charge's quantity in the whole units a Stripe meter counts: the cost meter in millionths of a dollar.</summary>
    public static decimal StripeUnits(Tokage.Billing.Plans.Meter meter, decimal quantity) =>
        decimal.Floor(meter == Tokage.Billing.Plans.Meter.CostUsd ? quantity * 1_000_000m : quantity);

    /// <summary>The identifier Stripe deduplicates by: the same (tenant, customer, charge, meter, hour, seq) always gives the same one.</summary>
    public static string Identifier(Guid tenant, Guid customer, string charge, string eventName, DateTimeOffset hour, int seq)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes($"{tenant:N}/{customer:N}/{charge}/{eventName}/{hour.ToUnixTimeSeconds()}/{seq}"));
        return string.Create(CultureInfo.InvariantCulture, $"tokage_{hour.UtcDateTime:yyyyMMddHH}_{seq}_{Convert.ToHexStringLower(digest)[..32]}");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (keys.Unavailable is { } why)
        {
            logger.LogInformation("{Why} Meter sync is off.", why);
            return;
        }

        using var timer = new PeriodicTimer(options.Value.SyncInterval, time);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "A Stripe meter sync pass failed; the next one tries again.");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task RunOnceAsync(CancellationToken ct)
    {
        foreach (var tenant in await ConnectedTenantsAsync(ct))
        {
            try
            {
                await EnqueueAsync(tenant, time.GetUtcNow(), ct);
                await SendDueAsync(tenant, ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                logger.LogWarning("Stripe meter sync of tenant {Tenant} failed: {Error}; the next pass tries again.", tenant, ex.Message);
            }
        }
    }

    private async Task<List<Guid>> ConnectedTenantsAsync(CancellationToken ct)
    {
        // The connections are tenant-owned: each active tenant is asked under its own scope.
        var connected = new List<Guid>();
        foreach (var tenant in await BillingRecords.ActiveTenantsAsync(database, ct))
        {
            if (await database.InTenantAsync(tenant, async (c, t) => (await BillingRecords.ReadAsync(c, t, "SELECT 1 FROM stripe_connections", r => 1, ct)).Count > 0, ct))
            {
                connected.Add(tenant);
            }
        }

        return connected;
    }

    private sealed record Metered(SubscriptionRecord Subscription, CustomerRecord Customer, TimeZoneInfo Zone);

    /// <summary>Adds an outbox row for every (customer, charge, hour) whose quantity grew past what was enqueued; returns how many.</summary>
    public async Task<int> EnqueueAsync(Guid tenant, DateTimeOffset now, CancellationToken ct)
    {
        var settings = options.Value;
        var end = Hour(now - settings.HourSettle);
        var start = Hour(now - settings.Lookback);
        if (end <= start)
        {
            return 0;
        }

        var (customers, plans, subscriptions) = await database.InTenantAsync(tenant, async (c, t) => (
            (await BillingRecords.CustomersAsync(c, t, ct)).Where(x => x.StripeCustomerId.Length > 0).ToDictionary(x => x.Id),
            (await BillingRecords.PlanVersionsAsync(c, t, ct)).ToDictionary(p => p.Id),
            await BillingRecords.SubscriptionsAsync(c, t, ct)), ct);
        var metered = subscriptions.Where(s => customers.ContainsKey(s.CustomerId))
            .Select(s => new Metered(s, customers[s.CustomerId], TimeZoneInfo.FindSystemTimeZoneById(customers[s.CustomerId].TimeZone)))
            .Where(m => plans[m.Subscription.PlanVersionId].Definition.Charges.Any(ch => ch.StripeMeterEventName is not null)
                || m.Subscription.NextPlanVersionId is { } next && plans[next].Definition.Charges.Any(ch => ch.StripeMeterEventName is not null))
            .ToList();
        if (metered.Count == 0)
        {
            return 0;
        }

        var ids = metered.SelectMany(m => m.Customer.Ids).Distinct().ToList();
        var rows = await usage.ByHourAsync(tenant.ToString(), ids, start, end, ct);
        var byCustomerId = metered.SelectMany(m => m.Customer.Ids.Select(id => (id, m.Customer.Id))).ToLookup(p => p.id, p => p.Item2);

        // The hour's quantity per (customer, charge, meter name).
        var wanted = new Dictionary<(Guid Customer, string Charge, string EventName, DateTimeOffset Hour), (decimal Units, string StripeCustomer)>();
        foreach (var hourRows in rows.GroupBy(r => r.Hour))
        {
            foreach (var m in metered)
            {
                var day = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(hourRows.Key, m.Zone).DateTime);
                if (day < m.Subscription.StartDate || m.Subscription.EndDate is { } ended && day >= ended)
                {
                    continue;
                }

                var slices = hourRows.Where(r => byCustomerId[r.Usage.Customer].Contains(m.Customer.Id)).Select(r => InvoiceEngine.Slice(r.Usage)).ToList();
                foreach (var charge in plans[m.Subscription.PlanVersionFor(day)].Definition.Charges.Where(ch => ch.StripeMeterEventName is not null))
                {
                    var quantity = slices.Where(s => charge.Filter.Matches(s.Provider, s.Model, s.Application)).Sum(s => s.Read(charge.Meter));
                    var units = StripeUnits(charge.Meter, quantity);
                    if (units > 0)
                    {
                        var key = (m.Customer.Id, charge.Key, charge.StripeMeterEventName!, hourRows.Key);
                        wanted[key] = (wanted.GetValueOrDefault(key).Units + units, m.Customer.StripeCustomerId);
                    }
                }
            }
        }

        if (wanted.Count == 0)
        {
            return 0;
        }

        return await database.InTenantAsync(tenant, async (c, t) =>
        {
            // One enqueuer per tenant at a time: the totals read below stay the totals until this commits.
            await BillingRecords.ExecuteAsync(c, t, "SELECT pg_advisory_xact_lock(hashtextextended('stripe-meter-enqueue:' || @tenant, 0))", ct, ("tenant", tenant.ToString()));
            var sent = (await BillingRecords.ReadAsync(c, t,
                    "SELECT customer_id, charge_key, event_name, hour, max(cumulative), max(seq) FROM stripe_meter_events WHERE hour >= @start " +
                    "GROUP BY customer_id, charge_key, event_name, hour",
                    r => (Key: (r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3)), Total: r.GetDecimal(4), Seq: r.GetInt32(5)), ct, ("start", start)))
                .ToDictionary(r => r.Key, r => (r.Total, r.Seq));
            var added = 0;
            foreach (var (key, (units, stripeCustomer)) in wanted)
            {
                var (total, seq) = sent.GetValueOrDefault(key);
                if (units < total)
                {
                    // Stripe meter events only add: a smaller total (a price correction on the cost meter) is logged, not sent.
                    logger.LogWarning("The {Charge} quantity of customer {Customer} for {Hour:O} fell from {Sent} to {Now} units; Stripe keeps what was sent.",
                        key.Charge, key.Customer, key.Hour, total, units);
                    continue;
                }

                if (units == total)
                {
                    continue;
                }

                var next = seq + 1;
                await BillingRecords.ExecuteAsync(c, t, """
                    INSERT INTO stripe_meter_events (id, tenant_id, customer_id, charge_key, event_name, stripe_customer_id, hour, seq, value, cumulative,
                                                     identifier, next_attempt_at, created_at)
                    VALUES (@id, @tenant, @customer, @charge, @event, @stripe, @hour, @seq, @value, @cumulative, @identifier, @now, @now)
                    """, ct, ("id", Guid.CreateVersion7()), ("tenant", tenant), ("customer", key.Customer), ("charge", key.Charge), ("event", key.EventName),
                    ("stripe", stripeCustomer), ("hour", key.Hour), ("seq", next), ("value", units - total), ("cumulative", units),
                    ("identifier", Identifier(tenant, key.Customer, key.Charge, key.EventName, key.Hour, next)), ("now", now));
                added++;
            }

            return added;
        }, ct);
    }

    private sealed record Due(Guid Id, string EventName, string StripeCustomer, DateTimeOffset Hour, decimal Value, string Identifier, int Attempt);

    /// <summary>Sends the tenant's due meter events; returns how many Stripe took.</summary>
    public async Task<int> SendDueAsync(Guid tenant, CancellationToken ct)
    {
        var settings = options.Value;
        var now = time.GetUtcNow();
        var (secret, due) = await database.InTenantAsync(tenant, async (c, t) =>
        {
            var stored = (await BillingRecords.ReadAsync(c, t, "SELECT secret_key_protected FROM stripe_connections", r => r.GetString(0), ct)).SingleOrDefault();
            var claimed = await BillingRecords.ReadAsync(c, t, """
                UPDATE stripe_meter_events AS e SET leased_until = @lease, attempts = e.attempts + 1
                FROM (SELECT id FROM stripe_meter_events
                      WHERE status = 'pending' AND next_attempt_at <= @now AND (leased_until IS NULL OR leased_until <= @now)
                      ORDER BY hour, seq LIMIT 100 FOR UPDATE SKIP LOCKED) AS due
                WHERE e.id = due.id
                RETURNING e.id, e.event_name, e.stripe_customer_id, e.hour, e.value, e.identifier, e.attempts
                """, r => new Due(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3), r.GetDecimal(4), r.GetString(5), r.GetInt32(6)),
                ct, ("now", now), ("lease", now + settings.Lease));
            return (stored, claimed);
        }, ct);
        if (secret is null || due.Count == 0)
        {
            return 0;
        }

        var stripe = new StripeClient(keys.Unprotect(tenant, secret), apiBase: settings.ApiBase?.ToString().TrimEnd('/'),
            // No retries inside Stripe.net: every attempt is the outbox's, recorded and spaced by its backoff.
            httpClient: new SystemNetHttpClient(clients.CreateClient(HttpClientName), maxNetworkRetries: 0));
        var meterEvents = new MeterEventService(stripe);
        var sentCount = 0;
        foreach (var item in due)
        {
            var (status, code, error) = await SendAsync(meterEvents, item, ct);
            sentCount += status == "sent" ? 1 : 0;
            if (status == "pending" && item.Attempt >= settings.MaxAttempts)
            {
                status = "parked";
            }

            Attempts.Add(1, new KeyValuePair<string, object?>("outcome", status == "pending" ? "retry" : status));
            var delay = RetryBackoff.Delay(item.Attempt, settings.RetryBaseDelay, settings.MaxRetryDelay);
            var at = time.GetUtcNow();
            await database.InTenantAsync(tenant, async (c, t) =>
            {
                await BillingRecords.ExecuteAsync(c, t, """
                    INSERT INTO stripe_meter_attempts (id, tenant_id, meter_event_id, attempt, status_code, error, at) VALUES (@id, @tenant, @event, @attempt, @code, @error, @at);
                    UPDATE stripe_meter_events SET status = @status, leased_until = NULL, next_attempt_at = @next, last_error = @error,
                        sent_at = CASE WHEN @status = 'sent' THEN @at ELSE sent_at END
                    WHERE id = @event
                    """, ct, ("id", Guid.CreateVersion7()), ("tenant", tenant), ("event", item.Id), ("attempt", item.Attempt),
                    ("code", code is { } c1 ? c1 : DBNull.Value), ("error", error is null ? DBNull.Value : error), ("at", at), ("status", status), ("next", at + delay));
                return 0;
            }, ct);
            if (status != "sent")
            {
                logger.LogWarning("Stripe meter event {Identifier} attempt {Attempt}: {Status} ({Code}) {Error}", item.Identifier, item.Attempt, status, code, error);
            }
        }

        return sentCount;
    }

    private static async Task<(string Status, int? Code, string? Error)> SendAsync(MeterEventService meterEvents, Due item, CancellationToken ct)
    {
        try
        {
            await meterEvents.CreateAsync(new MeterEventCreateOptions
            {
                EventName = item.EventName,
                Identifier = item.Identifier,
                Timestamp = item.Hour.UtcDateTime,
                Payload = new Dictionary<string, string>
                {
                    ["stripe_customer_id"] = item.StripeCustomer,
                    ["value"] = item.Value.ToString("0", CultureInfo.InvariantCulture),
                },
            }, new RequestOptions { IdempotencyKey = item.Identifier }, ct);
            return ("sent", 200, null);
        }
        catch (StripeException ex)
        {
            var code = (int)ex.HttpStatusCode;
            var message = ex.StripeError?.Message ?? ex.Message;
            // Sent before (beyond the idempotency key's 24 hours): Stripe refuses the identifier it already counted.
            if (ex.StripeError?.Code == "resource_already_exists")
            {
                return ("sent", code, null);
            }

            return code == (int)HttpStatusCode.TooManyRequests || code >= 500 || code == 0 ? ("pending", code, message) : ("parked", code, message);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return ("pending", null, ex.Message);
        }
    }

    private static DateTimeOffset Hour(DateTimeOffset at) => new(at.UtcTicks - at.UtcTicks % TimeSpan.TicksPerHour, TimeSpan.Zero);
}
