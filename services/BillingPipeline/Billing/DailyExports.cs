using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Npgsql;
using Parquet.Serialization;
using Parquet.Serialization.Attributes;
using Tokage.Billing;
using Tokage.Billing.Rendering;
using Tokage.Integrations;
using Tokage.Integrations.ObjectStore;

namespace Tokage.BillingPipeline.Billing;

/// <summary>
/// One export per tenant and closed UTC day, for warehouses: the day's usage lines (frozen when its statement closed)
/// and the invoices issued that day, each as Parquet and as CSV, then a manifest naming every object with its row count
/// and SHA-256 — written last, so a manifest's objects are all there. Objects are write-once; everything is read from
/// rows that never change, so exporting a day again makes the same bytes (and a store that has them takes them as a no-op).
/// </summary>
public sealed class DailyExports(
    NpgsqlDataSource database, [FromKeyedServices("archive")] IObjectStore store, IOptions<BillingOptions> options, ILogger<DailyExports> logger)
{
    public const string Root = "exports";

    /// <summary>Exports every closed day not exported yet whose invoices are all committed (an hour after it ends); returns how many.</summary>
    public async Task<int> ExportDueAsync(Guid tenant, DateTimeOffset now, CancellationToken ct)
    {
        var latest = DateOnly.FromDateTime((now - TimeSpan.FromHours(1)).UtcDateTime).AddDays(-1);
        var due = await database.InTenantAsync(tenant, (c, t) => BillingRecords.ReadAsync(c, t, """
            SELECT d.day FROM daily_statement_days d
            WHERE d.has_lines AND d.day <= @latest AND NOT EXISTS (SELECT 1 FROM billing_exports e WHERE e.day = d.day)
            ORDER BY d.day
            """, r => r.GetFieldValue<DateOnly>(0), ct, ("latest", latest)), ct);
        foreach (var day in due)
        {
            await ExportAsync(tenant, day, now, ct);
        }

        if (due.Count > 0)
        {
            logger.LogInformation("Exported {Count} days of tenant {Tenant}.", due.Count, tenant);
        }

        return due.Count;
    }

    /// <summary>Writes the day's objects and manifest (the same bytes each time) and records the export; returns the manifest.</summary>
    public async Task<JsonObject> ExportAsync(Guid tenant, DateOnly day, DateTimeOffset now, CancellationToken ct)
    {
        var (lines, invoices) = await database.InTenantAsync(tenant, async (c, t) => (
            await BillingRecords.ReadAsync(c, t, """
                SELECT customer, provider, model, application, events, unpriced_events, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                       reasoning_tokens, cost_usd
                FROM daily_usage_lines WHERE day = @day ORDER BY customer, provider, model, application
                """, r => new ExportedUsageLine
                {
                    Day = day, Customer = r.GetString(0), Provider = r.GetString(1), Model = r.GetString(2), Application = r.GetString(3), Events = r.GetInt64(4),
                    UnpricedEvents = r.GetInt64(5), InputTokens = r.GetInt64(6), OutputTokens = r.GetInt64(7), CacheReadTokens = r.GetInt64(8),
                    CacheWriteTokens = r.GetInt64(9), ReasoningTokens = r.GetInt64(10), CostUsd = r.GetDecimal(11),
                }, ct, ("day", day)),
            // As issued (figures and number never change after); paying or voiding later is the invoice's API's and the webhooks' news.
            await BillingRecords.ReadAsync(c, t, """
                SELECT i.id, i.number, cu.external_id, i.document ->> 'plan', (i.document ->> 'plan_version')::int, i.period_start, i.period_end,
                       i.subtotal_usd, i.credits_usd, i.total_usd, i.issued_at
                FROM invoices i JOIN customers cu ON cu.id = i.customer_id
                WHERE i.number IS NOT NULL AND i.issued_at >= @from AND i.issued_at < @to ORDER BY i.number
                """, r => new ExportedInvoice
                {
                    InvoiceId = r.GetGuid(0).ToString(), Number = r.GetInt64(1), Customer = r.GetString(2), Plan = r.GetString(3), PlanVersion = r.GetInt32(4),
                    PeriodStart = r.GetFieldValue<DateOnly>(5), PeriodEnd = r.GetFieldValue<DateOnly>(6), SubtotalUsd = r.GetDecimal(7), CreditsUsd = r.GetDecimal(8),
                    TotalUsd = r.GetDecimal(9), IssuedAt = r.GetFieldValue<DateTimeOffset>(10).UtcDateTime,
                }, ct, ("from", DailyStatements.UtcMidnight(day)), ("to", DailyStatements.UtcMidnight(day.AddDays(1))))), ct);

        var prefix = Prefix(tenant, day);
        var retainUntil = DailyStatements.UtcMidnight(day) + options.Value.ExportRetention;
        var objects = new JsonArray();
        async Task PutAsync(string table, string format, byte[] bytes, int rows)
        {
            var key = $"{prefix}/{table}.{format}";
            await store.PutWriteOnceAsync(key, bytes, retainUntil, ct);
            objects.Add(new JsonObject
            {
                ["key"] = key, ["table"] = table, ["format"] = format, ["rows"] = rows, ["bytes"] = bytes.Length,
                ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes)),
            });
        }

        await PutAsync("usage", "parquet", await ParquetAsync(lines, ct), lines.Count);
        await PutAsync("usage", "csv", CsvTable.Render(ExportedUsageLine.Columns, lines.Select(l => l.Fields())), lines.Count);
        await PutAsync("invoices", "parquet", await ParquetAsync(invoices, ct), invoices.Count);
        await PutAsync("invoices", "csv", CsvTable.Render(ExportedInvoice.Columns, invoices.Select(i => i.Fields())), invoices.Count);

        var manifest = new JsonObject
        {
            ["tenant_id"] = tenant.ToString(), ["day"] = IsoDay.Format(day), ["format_version"] = 1, ["objects"] = objects,
        };
        var manifestBytes = System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString());
        var manifestKey = $"{prefix}/manifest.json";
        await store.PutWriteOnceAsync(manifestKey, manifestBytes, retainUntil, ct);
        manifest["manifest_key"] = manifestKey;
        manifest["manifest_sha256"] = Convert.ToHexStringLower(SHA256.HashData(manifestBytes));
        await database.InTenantAsync(tenant, (c, t) => BillingRecords.ExecuteAsync(c, t, """
            INSERT INTO billing_exports (tenant_id, day, manifest_key, manifest, exported_at) VALUES (@tenant, @day, @key, @manifest, @now)
            ON CONFLICT (tenant_id, day) DO NOTHING
            """, ct, ("tenant", tenant), ("day", day), ("key", manifestKey), ("manifest", manifest.ToJsonString()), ("now", now)), ct);
        return manifest;
    }

    public static string Prefix(Guid tenant, DateOnly day) => $"{Root}/tenant={tenant}/date={IsoDay.Format(day)}";

    private static async Task<byte[]> ParquetAsync<T>(IReadOnlyCollection<T> rows, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await ParquetSerializer.SerializeAsync(rows, buffer, cancellationToken: ct);
        return buffer.ToArray();
    }
}

/// <summary>A closed day's usage of one customer id, provider, model and application, as exported.</summary>
public sealed class ExportedUsageLine
{
    public static readonly string[] Columns =
        ["day", "customer", "provider", "model", "application", "events", "unpriced_events", "input_tokens", "output_tokens", "cache_read_tokens",
         "cache_write_tokens", "reasoning_tokens", "cost_usd"];

    [ParquetRequired, JsonPropertyName("day")] public DateOnly Day { get; set; }
    [ParquetRequired, JsonPropertyName("customer")] public string Customer { get; set; } = "";
    [ParquetRequired, JsonPropertyName("provider")] public string Provider { get; set; } = "";
    [ParquetRequired, JsonPropertyName("model")] public string Model { get; set; } = "";
    [ParquetRequired, JsonPropertyName("application")] public string Application { get; set; } = "";
    [JsonPropertyName("events")] public long Events { get; set; }
    [JsonPropertyName("unpriced_events")] public long UnpricedEvents { get; set; }
    [JsonPropertyName("input_tokens")] public long InputTokens { get; set; }
    [JsonPropertyName("output_tokens")] public long OutputTokens { get; set; }
    [JsonPropertyName("cache_read_tokens")] public long CacheReadTokens { get; set; }
    [JsonPropertyName("cache_write_tokens")] public long CacheWriteTokens { get; set; }
    [JsonPropertyName("reasoning_tokens")] public long ReasoningTokens { get; set; }
    [ParquetDecimal(38, 12), JsonPropertyName("cost_usd")] public decimal CostUsd { get; set; }

    public string[] Fields() =>
    [
        IsoDay.Format(Day), Customer, Provider, Model, Application,
        .. new[] { Events, UnpricedEvents, InputTokens, OutputTokens, CacheReadTokens, CacheWriteTokens, ReasoningTokens }.Select(v => v.ToString(CultureInfo.InvariantCulture)),
        Money.Exact(CostUsd),
    ];
}

/// <summary>An invoice issued on the exported day, as issued.</summary>
public sealed class ExportedInvoice
{
    public static readonly string[] Columns =
        ["invoice_id", "number", "customer", "plan", "plan_version", "period_start", "period_end", "subtotal_usd", "credits_usd", "total_usd", "issued_at"];

    [ParquetRequired, JsonPropertyName("invoice_id")] public string InvoiceId { get; set; } = "";
    [JsonPropertyName("number")] public long Number { get; set; }
    [ParquetRequired, JsonPropertyName("customer")] public string Customer { get; set; } = "";
    [ParquetRequired, JsonPropertyName("plan")] public string Plan { get; set; } = "";
    [JsonPropertyName("plan_version")] public int PlanVersion { get; set; }
    [JsonPropertyName("period_start")] public DateOnly PeriodStart { get; set; }
    [JsonPropertyName("period_end")] public DateOnly PeriodEnd { get; set; }
    [ParquetDecimal(38, 2), JsonPropertyName("subtotal_usd")] public decimal SubtotalUsd { get; set; }
    [ParquetDecimal(38, 2), JsonPropertyName("credits_usd")] public decimal CreditsUsd { get; set; }
    [ParquetDecimal(38, 2), JsonPropertyName("total_usd")] public decimal TotalUsd { get; set; }
    [ParquetTimestamp(ParquetTimestampResolution.Milliseconds), JsonPropertyName("issued_at")] public DateTime IssuedAt { get; set; }

    public string[] Fields() =>
    [
        InvoiceId, Number.ToString(CultureInfo.InvariantCulture), Customer, Plan, PlanVersion.ToString(CultureInfo.InvariantCulture),
        IsoDay.Format(PeriodStart), IsoDay.Format(PeriodEnd),
        Money.Cents(SubtotalUsd), Money.Cents(CreditsUsd), Money.Cents(TotalUsd), IssuedAt.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
    ];
}
