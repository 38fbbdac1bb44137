using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Npgsql;
using Tokage.Analytics.Queries;
using Tokage.Billing;
using Tokage.BillingPipeline.Billing;
using Tokage.Integrations;

namespace Tokage.BillingPipeline.Reconciliation;

/// <summary>A reconciliation refused before anything was stored, with the field it names.</summary>
public sealed record ReconciliationRefusal(string Field, string Message);

/// <summary>
/// Compares a provider's cost report with what Tokage metered for the tenant: per UTC day and model (matched by
/// <see cref="ProviderCostReports.ModelKey"/>), the provider's amount beside the cost of the tenant's events of that
/// provider (as priced now, with repricing adjustments), the difference and its percentage of the provider's amount,
/// flagged above the threshold or where Tokage holds events it could not price. Stored with the report's SHA-256;
/// uploads for the same provider may not overlap in days.
/// </summary>
public sealed class Reconciliations(NpgsqlDataSource database, CustomerUsageQueries usage)
{
    public const decimal DefaultThresholdPercent = 0.5m;

    public async Task<(JsonObject? Result, ReconciliationRefusal? Refusal)> CreateAsync(
        Guid tenant, CostReport report, byte[] content, decimal thresholdPercent, DateTimeOffset now, CancellationToken ct)
    {
        var metered = await usage.ByDayAndModelAsync(tenant.ToString(), report.Provider, report.Start, report.End, ct);
        var rows = Compare(report, metered, thresholdPercent);
        var id = Guid.CreateVersion7();
        var refusal = await database.InTenantAsync(tenant, async (c, t) =>
        {
            // One upload per tenant and provider at a time, so two overlapping ones cannot both pass the check.
            await BillingRecords.ExecuteAsync(c, t, "SELECT pg_advisory_xact_lock(hashtext(@key))", ct, ("key", $"reconcile:{tenant}:{report.Provider}"));
            var overlapping = (await BillingRecords.ReadAsync(c, t,
                "SELECT id, period_start, period_end FROM reconciliations WHERE provider = @provider AND period_start < @end AND period_end > @start ORDER BY period_start LIMIT 1",
                r => (Id: r.GetGuid(0), Start: r.GetFieldValue<DateOnly>(1), End: r.GetFieldValue<DateOnly>(2)), ct,
                ("provider", report.Provider), ("start", report.Start), ("end", report.End))).FirstOrDefault();
            if (overlapping.Id != Guid.Empty)
            {
                return new ReconciliationRefusal("report",
                    $"The report's days {report.Start:yyyy-MM-dd} to {report.End.AddDays(-1):yyyy-MM-dd} overlap reconciliation {overlapping.Id} " +
                    $"({overlapping.Start:yyyy-MM-dd} to {overlapping.End.AddDays(-1):yyyy-MM-dd}): delete it first to reconcile those days again.");
            }

            await using var batch = new NpgsqlBatch(c, t);
            batch.BatchCommands.Add(BillingRecords.BatchCommand("""
                INSERT INTO reconciliations (id, tenant_id, provider, format, report_sha256, period_start, period_end, threshold_percent, provider_total_usd,
                    tokage_total_usd, flagged_rows, created_at)
                VALUES (@id, @tenant, @provider, @format, @sha, @start, @end, @threshold, @provider_total, @tokage_total, @flagged, @now)
                """, ("id", id), ("tenant", tenant), ("provider", report.Provider), ("format", report.Format),
                ("sha", Convert.ToHexStringLower(SHA256.HashData(content))), ("start", report.Start), ("end", report.End), ("threshold", thresholdPercent),
                ("provider_total", rows.Sum(r => r.ProviderUsd)), ("tokage_total", rows.Sum(r => r.TokageUsd)), ("flagged", rows.Count(r => r.Flagged)), ("now", now)));
            foreach (var (row, position) in rows.Select((r, i) => (r, i)))
            {
                batch.BatchCommands.Add(BillingRecords.BatchCommand("""
                    INSERT INTO reconciliation_rows (reconciliation_id, tenant_id, position, day, provider, model, line_items, provider_amount_usd, tokage_amount_usd,
                        tokage_events, unpriced_events, flagged)
                    VALUES (@id, @tenant, @position, @day, @provider, @model, @items, @provider_usd, @tokage_usd, @events, @unpriced, @flagged)
                    """, ("id", id), ("tenant", tenant), ("position", position), ("day", row.Day), ("provider", report.Provider), ("model", row.Model),
                    ("items", row.LineItems.ToArray()), ("provider_usd", row.ProviderUsd), ("tokage_usd", row.TokageUsd), ("events", row.Events),
                    ("unpriced", row.UnpricedEvents), ("flagged", row.Flagged)));
            }

            await batch.ExecuteNonQueryAsync(ct);
            return null;
        }, ct);
        return refusal is null ? (await GetAsync(tenant, id, ct), null) : (null, refusal);
    }

    public async Task<JsonObject?> GetAsync(Guid tenant, Guid id, CancellationToken ct) =>
        await database.InTenantAsync(tenant, async (c, t) =>
        {
            if ((await BillingRecords.ReadAsync(c, t, $"SELECT {SummaryColumns} FROM reconciliations WHERE id = @id", Summary, ct, ("id", id))).SingleOrDefault() is not { } result)
            {
                return null;
            }

            var provider = (string)result["provider"]!;
            result["rows"] = new JsonArray([.. await BillingRecords.ReadAsync(c, t, """
                SELECT day, model, line_items, provider_amount_usd, tokage_amount_usd, tokage_events, unpriced_events, flagged
                FROM reconciliation_rows WHERE reconciliation_id = @id ORDER BY position
                """, r => (JsonNode)RowJson(provider, new ComparedRow(r.GetFieldValue<DateOnly>(0), r.GetString(1), [.. r.GetFieldValue<string[]>(2)],
                    r.GetDecimal(3), r.GetDecimal(4), r.GetInt64(5), r.GetInt64(6), r.GetBoolean(7))), ct, ("id", id))]);
            return result;
        }, ct);

    public Task<List<JsonObject>> ListAsync(Guid tenant, CancellationToken ct) =>
        database.InTenantAsync(tenant, (c, t) => BillingRecords.ReadAsync(c, t,
            $"SELECT {SummaryColumns} FROM reconciliations ORDER BY period_start DESC, created_at DESC LIMIT 500", Summary, ct), ct);

    public Task<bool> DeleteAsync(Guid tenant, Guid id, CancellationToken ct) =>
        database.InTenantAsync(tenant, async (c, t) => await BillingRecords.ExecuteAsync(c, t, "DELETE FROM reconciliations WHERE id = @id", ct, ("id", id)) > 0, ct);

    private sealed record ComparedRow(
        DateOnly Day, string Model, List<string> LineItems, decimal ProviderUsd, decimal TokageUsd, long Events, long UnpricedEvents, bool Flagged)
    {
        public decimal DifferenceUsd => ProviderUsd - TokageUsd;

        /// <summary>The difference as a percentage of the provider's amount; null where the provider billed nothing.</summary>
        public decimal? DifferencePercent => ProviderUsd == 0m ? null : decimal.Round(DifferenceUsd / ProviderUsd * 100m, 4, MidpointRounding.AwayFromZero);
    }

    private static List<ComparedRow> Compare(CostReport report, IReadOnlyList<ProviderDayRow> metered, decimal thresholdPercent)
    {
        var billed = report.Lines.GroupBy(l => (l.Day, Key: ProviderCostReports.ModelKey(l.Model)))
            .ToDictionary(g => g.Key, g => (Usd: g.Sum(l => l.AmountUsd), Items: g.Select(l => l.LineItem.Length > 0 ? l.LineItem : l.Model).Distinct().Order(StringComparer.Ordinal).ToList()));
        var ours = metered.GroupBy(m => (m.Day, Key: ProviderCostReports.ModelKey(m.Model)))
            .ToDictionary(g => g.Key, g => (
                Usd: g.Sum(m => (m.Totals.CostUsd ?? 0m) + m.Totals.AdjustmentsUsd), Events: g.Sum(m => (long)m.Totals.Events),
                Unpriced: g.Sum(m => (long)m.Totals.UnpricedEvents)));
        return [.. billed.Keys.Union(ours.Keys).OrderBy(k => k.Day).ThenBy(k => k.Key, StringComparer.Ordinal).Select(key =>
        {
            var (providerUsd, items) = billed.GetValueOrDefault(key, (0m, []));
            var (tokageUsd, events, unpriced) = ours.GetValueOrDefault(key);
            var row = new ComparedRow(key.Day, key.Key, items, providerUsd, tokageUsd, events, unpriced, false);
            var flagged = unpriced > 0 || (row.DifferencePercent is { } percent ? Math.Abs(percent) > thresholdPercent : tokageUsd != 0m);
            return row with { Flagged = flagged };
        })];
    }

    private const string SummaryColumns =
        "id, provider, format, report_sha256, period_start, period_end, threshold_percent, provider_total_usd, tokage_total_usd, flagged_rows, created_at, " +
        "(SELECT count(*) FROM reconciliation_rows r WHERE r.reconciliation_id = reconciliations.id)";

    private static JsonObject Summary(NpgsqlDataReader r)
    {
        var (providerTotal, tokageTotal) = (r.GetDecimal(7), r.GetDecimal(8));
        return new JsonObject
        {
            ["id"] = r.GetGuid(0).ToString(), ["provider"] = r.GetString(1), ["format"] = r.GetString(2), ["report_sha256"] = r.GetString(3),
            ["period_start"] = IsoDay.Format(r.GetFieldValue<DateOnly>(4)), ["period_end"] = IsoDay.Format(r.GetFieldValue<DateOnly>(5)),
            ["threshold_percent"] = Money.Exact(r.GetDecimal(6)), ["provider_total_usd"] = Money.Exact(providerTotal), ["tokage_total_usd"] = Money.Exact(tokageTotal),
            ["difference_usd"] = Money.Exact(providerTotal - tokageTotal),
            ["difference_percent"] = providerTotal == 0m ? null : Money.Exact(decimal.Round((providerTotal - tokageTotal) / providerTotal * 100m, 4, MidpointRounding.AwayFromZero)),
            ["flagged_rows"] = r.GetInt32(9), ["rows_total"] = r.GetInt64(11), ["created_at"] = r.GetFieldValue<DateTimeOffset>(10).ToString("O"),
        };
    }

    private static JsonObject RowJson(string provider, ComparedRow row)
    {
        var (from, to) = (IsoDay.Format(row.Day) + "T00:00:00Z", IsoDay.Format(row.Day.AddDays(1)) + "T00:00:00Z");
        return new JsonObject
        {
            ["day"] = IsoDay.Format(row.Day), ["provider"] = provider, ["model"] = row.Model, ["line_items"] = new JsonArray([.. row.LineItems.Select(i => (JsonNode)i)]),
            ["provider_amount_usd"] = Money.Exact(row.ProviderUsd), ["tokage_amount_usd"] = Money.Exact(row.TokageUsd), ["difference_usd"] = Money.Exact(row.DifferenceUsd),
            ["difference_percent"] = row.DifferencePercent is { } p ? Money.Exact(p) : null, ["flagged"] = row.Flagged,
            ["tokage_events"] = row.Events, ["unpriced_events"] = row.UnpricedEvents,
            ["reason"] = !row.Flagged ? null
                : row.UnpricedEvents > 0 ? $"Tokage could not price {row.UnpricedEvents} of its {row.Events} events of this model on this day."
                : row.Events == 0 ? "Tokage metered no events of this model on this day."
                : row.ProviderUsd == 0m ? "The provider billed nothing for this model on this day."
                : "The amounts differ by more than the threshold.",
            // The events behind the row, in the query API (the provider's model names are matched without their snapshot date).
            ["events_query"] = $"/v1/events?from={from}&to={to}&filter[provider]={Uri.EscapeDataString(provider)}",
        };
    }

}
