using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Tokage.Analytics.Queries;
using Tokage.Audit;
using Tokage.Billing;
using Tokage.Billing.Invoices;
using Tokage.Integrations;

namespace Tokage.BillingPipeline.Billing;

/// <summary>One subscription period to bill: an invoice to issue, or a draft to bring up to date.</summary>
internal sealed record InvoiceWork(
    SubscriptionRecord Subscription, CustomerRecord Customer, PlanVersionRecord Plan, BillingPeriod Period, bool Issue,
    List<InvoiceLine> PeriodLines, List<PeriodAdjustment> Adjustments);

/// <summary>
/// Turns usage into invoices. Each pass, per tenant: every ended period whose grace has passed is issued (oldest first,
/// in batches that each hold the tenant's numbering lock, so numbers are gapless and a period is issued once however
/// many replicas run), and every open period's draft is rewritten from the usage store. Usage that reached an issued
/// period later — late events, or a repricing's adjustments (a corrected price) — becomes an adjustment line on the
/// subscription's next invoice: the cost meter rates what events cost now (charged plus adjustments).
/// </summary>
public sealed class InvoiceEngine(
    NpgsqlDataSource database, CustomerUsageQueries usage, IOptions<BillingOptions> options, ILogger<InvoiceEngine> logger)
{
    private const int MaxIdsPerRead = 500;

    /// <summary>Issues what is due and refreshes drafts for one tenant; returns how many invoices it issued.</summary>
    public async Task<int> RunAsync(Guid tenant, DateTimeOffset now, CancellationToken ct)
    {
        var state = await LoadAsync(tenant, customer: null, now, ct);
        var work = await PlanWorkAsync(tenant, state, now, ct);
        var issued = 0;
        foreach (var batch in work.Where(w => w.Issue).Chunk(options.Value.IssueBatchSize))
        {
            issued += await IssueAsync(tenant, state, batch, now, ct);
        }

        await WriteDraftsAsync(tenant, state, [.. work.Where(w => !w.Issue)], now, ct);
        if (issued > 0)
        {
            logger.LogInformation("Issued {Count} invoices for tenant {Tenant}.", issued, tenant);
        }

        return issued;
    }

    /// <summary>The customer's invoice for the period running now, as it stands (nothing is written), or null without a subscription.</summary>
    public async Task<JsonObject?> UpcomingAsync(Guid tenant, CustomerRecord customer, DateTimeOffset now, CancellationToken ct)
    {
        var state = await LoadAsync(tenant, customer.Id, now, ct);
        var work = (await PlanWorkAsync(tenant, state, now, ct)).Where(w => w.Period.Start <= now && now < w.Period.End).ToList();
        if (work is not [var current, ..])
        {
            return null;
        }

        var balances = await database.InTenantAsync(tenant, (c, t) => BalancesAsync(c, t, [customer.Id], ct), ct);
        var document = Document(state, current, InvoiceCalculator.Finish(Lines(current), balances.GetValueOrDefault(customer.Id) ?? [], current.Period));
        document["status"] = "draft";
        document["number"] = null;
        return document;
    }

    private sealed record TenantState(
        string TenantName, TimeSpan Grace, Dictionary<Guid, CustomerRecord> Customers, Dictionary<Guid, PlanVersionRecord> Plans,
        List<SubscriptionRecord> Subscriptions, Dictionary<Guid, DateOnly> LastIssued, List<IssuedPeriod> RecentIssued,
        Dictionary<(Guid, DateOnly), decimal> AdjustedSoFar);

    private sealed record IssuedPeriod(Guid Subscription, DateOnly Start, DateOnly End, long Number, Guid PlanVersion, decimal PeriodSubtotal);

    /// <summary>What billing needs of the tenant, or of one customer (the upcoming invoice): each query filtered to it.</summary>
    private Task<TenantState> LoadAsync(Guid tenant, Guid? customer, DateTimeOffset now, CancellationToken ct) =>
        database.InTenantAsync(tenant, async (connection, transaction) =>
        {
            // Written out, not "@customer IS NULL OR …": a plan for one customer must use its index.
            (string, object)[] only = customer is null ? [] : [("customer", customer.Value)];
            var ofCustomer = customer is null ? "true" : "customer_id = @customer";
            var name = (await BillingRecords.ReadAsync(connection, transaction, "SELECT name FROM tenants WHERE id = @id", r => r.GetString(0), ct, ("id", tenant))).Single();
            var grace = (await BillingRecords.ReadAsync(connection, transaction, "SELECT grace_hours FROM billing_settings", r => r.GetInt32(0), ct)).DefaultIfEmpty(24).First();
            var customers = (await BillingRecords.CustomersAsync(connection, transaction, ct, customer)).ToDictionary(c => c.Id);
            var plans = (await BillingRecords.PlanVersionsAsync(connection, transaction, ct)).ToDictionary(p => p.Id);
            var subscriptions = await BillingRecords.SubscriptionsAsync(connection, transaction, ct, customer);
            var lastIssued = (await BillingRecords.ReadAsync(connection, transaction,
                    $"SELECT subscription_id, max(period_start) FROM invoices WHERE status <> 'draft' AND {ofCustomer} GROUP BY subscription_id",
                    r => (r.GetGuid(0), r.GetFieldValue<DateOnly>(1)), ct, only))
                .ToDictionary(r => r.Item1, r => r.Item2);
            // Usage can reach a period until LateUsageWindow after its end; the invoice that carries its adjustment is issued
            // up to a period (31 days) and the grace later. So every issued period that can still change is re-rated,
            // with a day either side for zones ahead of and behind UTC.
            var lateFrom = DateOnly.FromDateTime((now - options.Value.LateUsageWindow - TimeSpan.FromHours(grace) - TimeSpan.FromDays(32)).UtcDateTime);
            var recent = await BillingRecords.ReadAsync(connection, transaction,
                "SELECT subscription_id, period_start, period_end, number, plan_version_id, period_subtotal_usd FROM invoices " +
                $"WHERE status IN ('issued', 'paid') AND period_end >= @from AND {ofCustomer} ORDER BY period_start",
                r => new IssuedPeriod(r.GetGuid(0), r.GetFieldValue<DateOnly>(1), r.GetFieldValue<DateOnly>(2), r.GetInt64(3), r.GetGuid(4), r.GetDecimal(5)),
                ct, [("from", lateFrom), .. only]);
            var adjusted = (await BillingRecords.ReadAsync(connection, transaction,
                    "SELECT a.subscription_id, a.period_start, sum(a.amount_usd) FROM invoice_adjustments a JOIN invoices i ON i.id = a.invoice_id " +
                    $"WHERE i.status IN ('issued', 'paid') AND a.period_start >= @from - 62 AND {(customer is null ? "true" : "i.customer_id = @customer")} " +
                    "GROUP BY a.subscription_id, a.period_start",
                    r => (r.GetGuid(0), r.GetFieldValue<DateOnly>(1), r.GetDecimal(2)), ct, [("from", lateFrom), .. only]))
                .ToDictionary(r => (r.Item1, r.Item2), r => r.Item3);
            return new TenantState(name, TimeSpan.FromHours(grace), customers, plans, subscriptions, lastIssued, recent, adjusted);
        }, ct);

    /// <summary>Every period to issue or draft, with its own lines rated from the usage store and the adjustments it carries.</summary>
    private async Task<List<InvoiceWork>> PlanWorkAsync(Guid tenant, TenantState state, DateTimeOffset now, CancellationToken ct)
    {
        var pending = new List<(SubscriptionRecord Subscription, CustomerRecord Customer, BillingPeriod Period, bool Issue, bool First)>();
        foreach (var subscription in state.Subscriptions)
        {
            var customer = state.Customers[subscription.CustomerId];
            var zone = TimeZoneInfo.FindSystemTimeZoneById(customer.TimeZone);
            var after = state.LastIssued.GetValueOrDefault(subscription.Id, DateOnly.MinValue);
            var first = true;
            foreach (var period in subscription.Schedule(zone).Periods().TakeWhile(p => p.Start <= now).Where(p => p.StartDate > after))
            {
                pending.Add((subscription, customer, period, period.End + state.Grace <= now, first));
                first = false;
            }
        }

        // The usage of every window once, for all the customers billed over it.
        var windows = pending.Select(p => (p.Period.Start, p.Period.End, p.Customer)).ToList();
        var recentIssued = state.RecentIssued.ToLookup(i => i.Subscription);
        var recheck = pending.Where(p => p.First)
            .SelectMany(p => recentIssued[p.Subscription.Id].Where(i => i.Start < p.Period.StartDate)
                .Select(i => (Issued: i, p.Customer, Period: Period(p.Subscription, p.Customer, i.Start))))
            .Where(r => r.Period is not null)
            .ToList();
        windows.AddRange(recheck.Select(r => (r.Period!.Start, r.Period.End, r.Customer)));
        var usageByWindow = new Dictionary<(DateTimeOffset, DateTimeOffset), ILookup<string, CustomerUsageRow>>();
        foreach (var window in windows.GroupBy(w => (w.Start, w.End)))
        {
            // Many customers over one window (a month's issuing): one read of every customer's usage beats a long id list.
            var ids = window.SelectMany(w => w.Customer.Ids).Distinct().ToList();
            var rows = await usage.InRangeAsync(tenant.ToString(), ids.Count <= MaxIdsPerRead ? ids : null, window.Key.Start, window.Key.End, ct);
            usageByWindow[window.Key] = rows.ToLookup(r => r.Customer);
        }

        List<UsageSlice> UsageOf(CustomerRecord customer, BillingPeriod period) =>
            [.. customer.Ids.SelectMany(id => usageByWindow[(period.Start, period.End)][id]).Select(Slice)];

        var recheckBySubscription = recheck.ToLookup(r => r.Issued.Subscription);
        var work = new List<InvoiceWork>();
        foreach (var p in pending)
        {
            var plan = state.Plans[p.Subscription.PlanVersionFor(p.Period.StartDate)];
            var adjustments = new List<PeriodAdjustment>();
            if (p.First)
            {
                foreach (var (issued, customer, period) in recheckBySubscription[p.Subscription.Id])
                {
                    var rated = InvoiceCalculator.PeriodLines(state.Plans[issued.PlanVersion].Definition, UsageOf(customer, period!)).Sum(l => l.AmountUsd);
                    var billed = issued.PeriodSubtotal + state.AdjustedSoFar.GetValueOrDefault((issued.Subscription, issued.Start));
                    if (rated != billed)
                    {
                        adjustments.Add(new PeriodAdjustment(issued.Start, issued.End, issued.Number.ToString(System.Globalization.CultureInfo.InvariantCulture), rated - billed));
                    }
                }
            }

            work.Add(new InvoiceWork(p.Subscription, p.Customer, plan, p.Period, p.Issue, InvoiceCalculator.PeriodLines(plan.Definition, UsageOf(p.Customer, p.Period)), adjustments));
        }

        return work;
    }

    private static BillingPeriod? Period(SubscriptionRecord subscription, CustomerRecord customer, DateOnly start) =>
        subscription.Schedule(TimeZoneInfo.FindSystemTimeZoneById(customer.TimeZone)).Periods().TakeWhile(p => p.StartDate <= start).LastOrDefault(p => p.StartDate == start);

    public static UsageSlice Slice(CustomerUsageRow row) => new(
        row.Provider, row.Model, row.Application, row.Totals.Events, row.Totals.InputTokens, row.Totals.OutputTokens, row.Totals.CacheReadTokens,
        row.Totals.CacheWriteTokens + row.Totals.CacheWrite1hTokens, row.Totals.ReasoningTokens, (row.Totals.CostUsd ?? 0m) + row.Totals.AdjustmentsUsd);

    private static List<InvoiceLine> Lines(InvoiceWork work) => [.. work.PeriodLines, .. InvoiceCalculator.AdjustmentLines(work.Adjustments)];

    private static JsonObject Document(TenantState state, InvoiceWork work, InvoiceFigures figures) =>
        InvoiceJson.Document(new InvoiceHeader(state.TenantName, work.Customer.ExternalId, work.Customer.Name, work.Plan.Key, work.Plan.Version, work.Period, work.Customer.TimeZone), figures);

    /// <summary>
    /// Issues a batch in one transaction under the tenant's numbering lock: periods another replica issued meanwhile are
    /// skipped, the rest get the next numbers, draw their credits and record their adjustments. All or nothing.
    /// </summary>
    /// <summary>Invoices are issued by the service when their periods end, whoever asked for the run.</summary>
    private static readonly AuditActor IssuedBy = AuditActor.OfService("billing-pipeline");

    private Task<int> IssueAsync(Guid tenant, TenantState state, IReadOnlyList<InvoiceWork> batch, DateTimeOffset now, CancellationToken ct) =>
        database.InTenantAsync(tenant, async (connection, transaction) =>
        {
            await BillingRecords.ExecuteAsync(connection, transaction,
                "INSERT INTO billing_settings (tenant_id) VALUES (@tenant) ON CONFLICT (tenant_id) DO NOTHING", ct, ("tenant", tenant));
            var number = (await BillingRecords.ReadAsync(connection, transaction,
                "SELECT last_invoice_number FROM billing_settings WHERE tenant_id = @tenant FOR UPDATE", r => r.GetInt64(0), ct, ("tenant", tenant))).Single();

            // The batch's invoices so far, in one read: periods issued meanwhile are skipped, and an issued invoice keeps its
            // draft's id (the one its webhook event names).
            var existing = await BillingRecords.ReadAsync(connection, transaction,
                "SELECT subscription_id, period_start, id, status <> 'draft' FROM invoices WHERE subscription_id = ANY(@subscriptions)",
                r => (Period: (r.GetGuid(0), r.GetFieldValue<DateOnly>(1)), Id: r.GetGuid(2), Issued: r.GetBoolean(3)), ct,
                ("subscriptions", batch.Select(w => w.Subscription.Id).Distinct().ToArray()));
            var alreadyIssued = existing.Where(i => i.Issued).Select(i => i.Period).ToHashSet();
            var draftIds = existing.Where(i => !i.Issued).ToDictionary(i => i.Period, i => i.Id);
            var balances = await BalancesAsync(connection, transaction, [.. batch.Select(w => w.Customer.Id).Distinct()], ct);

            await using var commands = new NpgsqlBatch(connection, transaction);
            var issued = 0;
            foreach (var work in batch.Where(w => !alreadyIssued.Contains((w.Subscription.Id, w.Period.StartDate))))
            {
                var credits = balances.GetValueOrDefault(work.Customer.Id) ?? [];
                var figures = InvoiceCalculator.Finish(Lines(work), credits, work.Period);
                var id = draftIds.GetValueOrDefault((work.Subscription.Id, work.Period.StartDate), Guid.CreateVersion7());
                number++;
                var document = Document(state, work, figures);
                commands.BatchCommands.Add(UpsertInvoice(tenant, id, work, document, figures, "issued", number, now));
                var invoice = BillingEvents.InvoiceSummary(document);
                invoice["id"] = id.ToString();
                invoice["number"] = number;
                invoice["status"] = "issued";
                invoice["issued_at"] = now.ToString("O");
                commands.BatchCommands.Add(BillingEvents.Record(tenant, BillingEvents.InvoiceIssued, $"invoice:{id}", new JsonObject { ["invoice"] = invoice }, now));
                commands.BatchCommands.Add(AuditOutbox.Command(
                    AuditChange.Of<object>(tenant, AuditKinds.InvoiceIssued, $"invoice:{number}", new { status = "draft" }, new
                    {
                        number, status = "issued", customer = work.Customer.ExternalId, plan = work.Plan.Key, plan_version = work.Plan.Version,
                        subscription = work.Subscription.Id, period_start = work.Period.StartDate, period_end = work.Period.EndDate,
                        subtotal_usd = figures.SubtotalUsd, credits_usd = figures.CreditsUsd, total_usd = figures.TotalUsd,
                    }),
                    IssuedBy));
                foreach (var use in figures.Credits)
                {
                    commands.BatchCommands.Add(BillingRecords.BatchCommand(
                        "INSERT INTO credit_drawdowns (tenant_id, grant_id, invoice_id, amount_usd) SELECT @tenant, @grant, id, @amount FROM invoices WHERE subscription_id = @subscription AND period_start = @start",
                        ("tenant", tenant), ("grant", use.GrantId), ("amount", use.AmountUsd), ("subscription", work.Subscription.Id), ("start", work.Period.StartDate)));
                    var drawn = credits.FindIndex(c => c.GrantId == use.GrantId);
                    credits[drawn] = credits[drawn] with { RemainingUsd = credits[drawn].RemainingUsd - use.AmountUsd };
                    if (credits[drawn].RemainingUsd <= 0m)
                    {
                        // Drawn to nothing by this invoice: reported once for it (a void gives the credit back, and a later
                        // invoice that empties it again is another event).
                        commands.BatchCommands.Add(BillingEvents.Record(tenant, BillingEvents.CreditGrantDepleted, $"credit_grant:{use.GrantId}:invoice:{id}", new JsonObject
                        {
                            ["credit_grant"] = new JsonObject { ["id"] = use.GrantId.ToString(), ["customer"] = work.Customer.ExternalId, ["remaining_usd"] = "0" },
                            ["invoice"] = new JsonObject { ["id"] = id.ToString(), ["number"] = number, ["drawn_usd"] = Money.Cents(use.AmountUsd) },
                        }, now));
                    }
                }

                foreach (var line in figures.Lines.Where(l => l.Kind == LineKind.Adjustment))
                {
                    commands.BatchCommands.Add(BillingRecords.BatchCommand(
                        "INSERT INTO invoice_adjustments (tenant_id, invoice_id, subscription_id, period_start, amount_usd) SELECT @tenant, id, @subscription, @adjusted, @amount FROM invoices WHERE subscription_id = @subscription AND period_start = @start",
                        ("tenant", tenant), ("subscription", work.Subscription.Id), ("adjusted", line.PeriodStart!.Value), ("amount", line.AmountUsd), ("start", work.Period.StartDate)));
                }

                issued++;
            }

            if (issued == 0)
            {
                return 0;
            }

            commands.BatchCommands.Add(BillingRecords.BatchCommand("UPDATE billing_settings SET last_invoice_number = @number WHERE tenant_id = @tenant", ("number", number), ("tenant", tenant)));
            await commands.ExecuteNonQueryAsync(ct);
            return issued;
        }, ct);

    private Task WriteDraftsAsync(Guid tenant, TenantState state, IReadOnlyList<InvoiceWork> drafts, DateTimeOffset now, CancellationToken ct) =>
        drafts.Count == 0 ? Task.CompletedTask : database.InTenantAsync(tenant, async (connection, transaction) =>
        {
            var balances = await BalancesAsync(connection, transaction, [.. drafts.Select(w => w.Customer.Id).Distinct()], ct);
            await using var commands = new NpgsqlBatch(connection, transaction);
            foreach (var work in drafts)
            {
                var credits = balances.GetValueOrDefault(work.Customer.Id) ?? [];
                // A draft shows the credits it would draw today; only issuing draws them.
                var figures = InvoiceCalculator.Finish(Lines(work), credits, work.Period);
                commands.BatchCommands.Add(UpsertInvoice(tenant, Guid.CreateVersion7(), work, Document(state, work, figures), figures, "draft", null, now));
            }

            await commands.ExecuteNonQueryAsync(ct);
            return 0;
        }, ct);

    /// <summary>Inserts the period's invoice, or rewrites it while it is still a draft (an issued one is never touched).</summary>
    private static NpgsqlBatchCommand UpsertInvoice(Guid tenant, Guid id, InvoiceWork work, JsonObject document, InvoiceFigures figures, string status, long? number, DateTimeOffset now)
    {
        var command = BillingRecords.BatchCommand("""
            INSERT INTO invoices (id, tenant_id, customer_id, subscription_id, plan_version_id, period_start, period_end, status, number, document,
                subtotal_usd, credits_usd, total_usd, total_unrounded_usd, period_subtotal_usd, created_at, updated_at, issued_at)
            VALUES (@id, @tenant, @customer, @subscription, @plan, @start, @end, @status, @number, @document::jsonb,
                @subtotal, @credits, @total, @unrounded, @period_subtotal, @now, @now, @issued_at)
            ON CONFLICT (subscription_id, period_start) DO UPDATE SET
                plan_version_id = excluded.plan_version_id, period_end = excluded.period_end, status = excluded.status, number = excluded.number,
                document = excluded.document, subtotal_usd = excluded.subtotal_usd, credits_usd = excluded.credits_usd, total_usd = excluded.total_usd,
                total_unrounded_usd = excluded.total_unrounded_usd, period_subtotal_usd = excluded.period_subtotal_usd, updated_at = excluded.updated_at,
                issued_at = excluded.issued_at
            WHERE invoices.status = 'draft'
            """,
            ("id", id), ("tenant", tenant), ("customer", work.Customer.Id), ("subscription", work.Subscription.Id), ("plan", work.Plan.Id),
            ("start", work.Period.StartDate), ("end", work.Period.EndDate), ("status", status), ("number", (object?)number ?? DBNull.Value),
            ("document", document.ToJsonString()), ("subtotal", figures.SubtotalUsd), ("credits", figures.CreditsUsd), ("total", figures.TotalUsd),
            ("unrounded", figures.TotalUnroundedUsd), ("period_subtotal", figures.PeriodSubtotalUsd), ("now", now),
            ("issued_at", status == "issued" ? now : DBNull.Value));
        command.Parameters["number"].NpgsqlDbType = NpgsqlDbType.Bigint;
        command.Parameters["issued_at"].NpgsqlDbType = NpgsqlDbType.TimestampTz;
        return command;
    }

    /// <summary>What is left of each grant of these customers (drawdowns of void invoices are given back).</summary>
    internal static async Task<Dictionary<Guid, List<CreditBalance>>> BalancesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] customers, CancellationToken ct)
    {
        var rows = await BillingRecords.ReadAsync(connection, transaction, """
            SELECT g.customer_id, g.id, g.amount_usd - coalesce(sum(d.amount_usd) FILTER (WHERE i.status <> 'void'), 0), g.priority, g.effective_at, g.expires_at
            FROM credit_grants g LEFT JOIN credit_drawdowns d ON d.grant_id = g.id LEFT JOIN invoices i ON i.id = d.invoice_id
            WHERE g.customer_id = ANY(@customers)
            GROUP BY g.id
            """,
            r => (Customer: r.GetGuid(0), Balance: new CreditBalance(r.GetGuid(1), r.GetDecimal(2), r.GetInt32(3), r.GetFieldValue<DateTimeOffset>(4),
                r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5))),
            ct, ("customers", customers));
        return rows.GroupBy(r => r.Customer).ToDictionary(g => g.Key, g => g.Select(r => r.Balance).ToList());
    }
}
