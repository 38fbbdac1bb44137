using System.Globalization;
using System.Text.Json.Nodes;
using Npgsql;
using Tokage.BillingPipeline.Billing;
using Tokage.Integrations;
using Tokage.Integrations.ObjectStore;
using static Tokage.BillingPipeline.Apis.BillingErrors;

namespace Tokage.BillingPipeline.Apis;

/// <summary>
/// The tenant's daily exports (<c>/v1/exports</c>): each day's manifest, its objects' bytes, and exporting a closed day
/// again (the same bytes, so a warehouse that loaded it loads nothing new).
/// </summary>
public static class ExportsApi
{
    private static readonly string[] Objects = ["usage.parquet", "usage.csv", "invoices.parquet", "invoices.csv", "manifest.json"];

    public static void MapExportsApi(this WebApplication app)
    {
        var exports = app.MapGroup("/v1/exports").WithTags("Exports");
        exports.MapGet("/", (HttpContext context, NpgsqlDataSource db, string? from, string? to) =>
            BillingCaller.AsTenantAsync(context, tenant => ListAsync(db, tenant, from, to, context.RequestAborted)));
        exports.MapGet("/{day}", (HttpContext context, NpgsqlDataSource db, string day) =>
            BillingCaller.AsTenantAsync(context, async tenant => IsoDay.Parse(day) is not { } d ? BadDay()
                : await ManifestAsync(db, tenant, d, context.RequestAborted) is { } manifest ? Results.Ok(manifest) : NotFound($"An export of {day}")));
        exports.MapGet("/{day}/{name}", (HttpContext context, [FromKeyedServices("archive")] IObjectStore store, NpgsqlDataSource db, string day, string name) =>
            BillingCaller.AsTenantAsync(context, async tenant =>
            {
                if (IsoDay.Parse(day) is not { } d)
                {
                    return BadDay();
                }

                if (!Objects.Contains(name))
                {
                    return Invalid("name", $"An export's objects are {string.Join(", ", Objects)}.");
                }

                // Only a recorded export is served: its objects are complete.
                if (await ManifestAsync(db, tenant, d, context.RequestAborted) is null || await store.GetAsync($"{DailyExports.Prefix(tenant, d)}/{name}", context.RequestAborted) is not { } bytes)
                {
                    return NotFound($"An export of {day}");
                }

                var type = name.EndsWith(".csv", StringComparison.Ordinal) ? "text/csv; charset=utf-8"
                    : name.EndsWith(".json", StringComparison.Ordinal) ? "application/json" : "application/vnd.apache.parquet";
                return Results.File(bytes, type, $"{day}-{name}");
            }));
        exports.MapPost("/{day}", (HttpContext context, NpgsqlDataSource db, DailyExports daily, TimeProvider time, string day) =>
            BillingCaller.AsTenantAsync(context, async tenant =>
            {
                if (IsoDay.Parse(day) is not { } d)
                {
                    return BadDay();
                }

                var closed = await db.InTenantAsync(tenant, (c, t) => BillingRecords.ReadAsync(c, t,
                    "SELECT has_lines FROM daily_statement_days WHERE day = @day", r => r.GetBoolean(0), context.RequestAborted, ("day", d)), context.RequestAborted);
                return closed is [true] ? Results.Ok(await daily.ExportAsync(tenant, d, time.GetUtcNow(), context.RequestAborted))
                    : Conflict($"{day} is not a closed day with usage lines yet: a day is exported once its statement closes (the billing grace after it ends).");
            }));
    }

    private static async Task<IResult> ListAsync(NpgsqlDataSource db, Guid tenant, string? from, string? to, CancellationToken ct)
    {
        var (start, end) = (from is null ? DateOnly.MinValue : IsoDay.Parse(from), to is null ? DateOnly.MaxValue : IsoDay.Parse(to));
        if (start is null || end is null)
        {
            return BadDay();
        }

        var rows = await db.InTenantAsync(tenant, (c, t) => BillingRecords.ReadAsync(c, t,
            "SELECT manifest, exported_at FROM billing_exports WHERE day >= @from AND day < @to ORDER BY day DESC LIMIT 400",
            r => Entry(r.GetString(0), r.GetFieldValue<DateTimeOffset>(1)), ct, ("from", start.Value), ("to", end.Value)), ct);
        return Results.Ok(new JsonObject { ["exports"] = new JsonArray([.. rows]) });
    }

    private static async Task<JsonObject?> ManifestAsync(NpgsqlDataSource db, Guid tenant, DateOnly day, CancellationToken ct) =>
        (await db.InTenantAsync(tenant, (c, t) => BillingRecords.ReadAsync(c, t, "SELECT manifest, exported_at FROM billing_exports WHERE day = @day",
            r => Entry(r.GetString(0), r.GetFieldValue<DateTimeOffset>(1)), ct, ("day", day)), ct)).SingleOrDefault();

    private static JsonObject Entry(string manifest, DateTimeOffset exportedAt)
    {
        var entry = JsonNode.Parse(manifest)!.AsObject();
        entry["exported_at"] = exportedAt.ToString("O");
        return entry;
    }

    private static IResult BadDay() => Invalid("day", "Days are UTC dates, YYYY-MM-DD.");
}
