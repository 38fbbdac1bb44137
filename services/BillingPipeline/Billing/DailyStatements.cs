using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.Analytics.Queries;
using Tokage.Integrations;

namespace Tokage.BillingPipeline.Billing;

public sealed record StatementRow(
    DateOnly Day, string Customer, long Events, long UnpricedEvents, long InputTokens, long OutputTokens, long CacheReadTokens, long CacheWriteTokens,
    long ReasoningTokens, decimal CostUsd);

/// <summary>
/// Closes each UTC day once the tenant's grace has passed after it: the day's usage per customer id (as events named
/// it; '' for none) from the hourly rollup by customer, written once (a closed day is never rewritten, so reading it
/// again gives the same bytes). Replicas and restarts close a day once: the day's row is the claim.
/// </summary>
public sealed class DailyStatements(NpgsqlDataSource database, CustomerUsageQueries usage, IOptions<BillingOptions> options)
{
    public static readonly string[] Columns =
        ["day", "customer", "events", "unpriced_events", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "cost_usd"];

    /// <summary>Closes every day that is due and not closed yet; returns how many it closed.</summary>
    public async Task<int> CloseDueAsync(Guid tenant, DateTimeOffset now, CancellationToken ct)
    {
        var (grace, closed) = await database.InTenantAsync(tenant, async (c, t) => (
            TimeSpan.FromHours((await BillingRecords.ReadAsync(c, t, "SELECT grace_hours FROM billing_settings", r => r.GetInt32(0), ct)).DefaultIfEmpty(24).First()),
            (await BillingRecords.ReadAsync(c, t, "SELECT day FROM daily_statement_days WHERE day >= @from", r => r.GetFieldValue<DateOnly>(0), ct,
                ("from", Today(now).AddDays(-options.Value.StatementLookbackDays)))).ToHashSet()), ct);

        var last = DateOnly.FromDateTime((now - grace).UtcDateTime).AddDays(-1);
        var count = 0;
        for (var day = Today(now).AddDays(-options.Value.StatementLookbackDays); day <= last; day = day.AddDays(1))
        {
            if (!closed.Contains(day))
            {
                count += await CloseAsync(tenant, day, now, ct) ? 1 : 0;
            }
        }

        return count;
    }

    private async Task<bool> CloseAsync(Guid tenant, DateOnly day, DateTimeOffset now, CancellationToken ct)
    {
        // One read: the day's lines by provider, model and application; each customer id's statement row is the sum of its lines.
        var lines = await usage.InRangeAsync(tenant.ToString(), null, UtcMidnight(day), UtcMidnight(day.AddDays(1)), ct);
        var rows = lines.GroupBy(l => l.Customer, StringComparer.Ordinal).Select(g => (Customer: g.Key,
            Events: g.Sum(l => (long)l.Totals.Events), Unpriced: g.Sum(l => (long)l.Totals.UnpricedEvents), Input: g.Sum(l => (long)l.Totals.InputTokens),
            Output: g.Sum(l => (long)l.Totals.OutputTokens), Reads: g.Sum(l => (long)l.Totals.CacheReadTokens),
            Writes: g.Sum(l => (long)(l.Totals.CacheWriteTokens + l.Totals.CacheWrite1hTokens)), Reasoning: g.Sum(l => (long)l.Totals.ReasoningTokens),
            Cost: g.Sum(l => l.Totals.CostUsd ?? 0m))).ToList();
        return await database.InTenantAsync(tenant, async (connection, transaction) =>
        {
            var claimed = await BillingRecords.ExecuteAsync(connection, transaction,
                "INSERT INTO daily_statement_days (tenant_id, day, closed_at, has_lines) VALUES (@tenant, @day, @now, true) ON CONFLICT DO NOTHING", ct,
                ("tenant", tenant), ("day", day), ("now", now));
            if (claimed == 0)
            {
                return false;
            }

            await using var batch = new NpgsqlBatch(connection, transaction);
            foreach (var row in rows)
            {
                batch.BatchCommands.Add(BillingRecords.BatchCommand("""
                    INSERT INTO daily_statements (tenant_id, day, customer, events, unpriced_events, input_tokens, output_tokens, cache_read_tokens,
                        cache_write_tokens, reasoning_tokens, cost_usd, closed_at)
                    VALUES (@tenant, @day, @customer, @events, @unpriced, @input, @output, @reads, @writes, @reasoning, @cost, @now)
                    """,
                    ("tenant", tenant), ("day", day), ("customer", row.Customer), ("events", row.Events), ("unpriced", row.Unpriced), ("input", row.Input),
                    ("output", row.Output), ("reads", row.Reads), ("writes", row.Writes), ("reasoning", row.Reasoning), ("cost", row.Cost), ("now", now)));
            }

            // The day's lines by provider, model and application, frozen with the statement: what its export is made of.
            foreach (var line in lines)
            {
                var t = line.Totals;
                batch.BatchCommands.Add(BillingRecords.BatchCommand("""
                    INSERT INTO daily_usage_lines (tenant_id, day, customer, provider, model, application, events, unpriced_events, input_tokens, output_tokens,
                        cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd)
                    VALUES (@tenant, @day, @customer, @provider, @model, @application, @events, @unpriced, @input, @output, @reads, @writes, @reasoning, @cost)
                    """,
                    ("tenant", tenant), ("day", day), ("customer", line.Customer), ("provider", line.Provider), ("model", line.Model), ("application", line.Application),
                    ("events", (long)t.Events), ("unpriced", (long)t.UnpricedEvents), ("input", (long)t.InputTokens), ("output", (long)t.OutputTokens),
                    ("reads", (long)t.CacheReadTokens), ("writes", (long)(t.CacheWriteTokens + t.CacheWrite1hTokens)), ("reasoning", (long)t.ReasoningTokens),
                    ("cost", t.CostUsd ?? 0m)));
            }

            if (batch.BatchCommands.Count > 0)
            {
                await batch.ExecuteNonQueryAsync(ct);
            }

            return true;
        }, ct);
    }

    /// <summary>The closed days in <c>[from, to)</c> and their rows, in day then customer order.</summary>
    public Task<(List<DateOnly> Closed, List<StatementRow> Rows)> ReadAsync(Guid tenant, DateOnly from, DateOnly to, CancellationToken ct) =>
        database.InTenantAsync(tenant, async (connection, transaction) => (
            await BillingRecords.ReadAsync(connection, transaction, "SELECT day FROM daily_statement_days WHERE day >= @from AND day < @to ORDER BY day",
                r => r.GetFieldValue<DateOnly>(0), ct, ("from", from), ("to", to)),
            await BillingRecords.ReadAsync(connection, transaction,
                "SELECT day, customer, events, unpriced_events, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd " +
                "FROM daily_statements WHERE day >= @from AND day < @to ORDER BY day, customer",
                r => new StatementRow(r.GetFieldValue<DateOnly>(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6),
                    r.GetInt64(7), r.GetInt64(8), r.GetDecimal(9)),
                ct, ("from", from), ("to", to))), ct);

    public static string[] Fields(StatementRow row) =>
    [
        IsoDay.Format(row.Day), row.Customer,
        .. new[] { row.Events, row.UnpricedEvents, row.InputTokens, row.OutputTokens, row.CacheReadTokens, row.CacheWriteTokens, row.ReasoningTokens }
            .Select(v => v.ToString(CultureInfo.InvariantCulture)),
        Tokage.Billing.Money.Exact(row.CostUsd),
    ];

    /// <summary>The start of a UTC day.</summary>
    internal static DateTimeOffset UtcMidnight(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    private static DateOnly Today(DateTimeOffset now) => DateOnly.FromDateTime(now.UtcDateTime);
}
