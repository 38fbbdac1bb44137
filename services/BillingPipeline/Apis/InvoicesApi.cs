using System.Globalization;
using System.Text.Json.Nodes;
using Npgsql;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.Billing.Rendering;
using Tokage.BillingPipeline.Billing;
using Tokage.Integrations;
using static Tokage.BillingPipeline.Apis.BillingErrors;

namespace Tokage.BillingPipeline.Apis;

/// <summary>
/// Invoices (<c>/v1/invoices</c>: JSON, <c>.csv</c> of the lines, <c>.pdf</c>; void and mark-paid), a customer's upcoming
/// invoice, daily statements (<c>/v1/statements/daily</c>, JSON or CSV) and <c>POST /v1/billing/run</c> (a pass now).
/// </summary>
public static class InvoicesApi
{
    private static readonly string[] Statuses = ["draft", "issued", "paid", "void"];

    public static void MapInvoicesApi(this WebApplication app)
    {
        var invoices = app.MapGroup("/v1/invoices").WithTags("Invoices");
        invoices.MapGet("/", (HttpContext context, NpgsqlDataSource db, string? customer, string? status) =>
            BillingCaller.AsTenantAsync(context, tenant => ListAsync(db, tenant, customer, status, context.RequestAborted)));
        invoices.MapGet("/{id:guid}", (HttpContext context, NpgsqlDataSource db, Guid id) =>
            BillingCaller.AsTenantAsync(context, async tenant => await FindAsync(db, tenant, id, context.RequestAborted) is { } invoice
                ? Results.Ok(invoice) : NotFound($"Invoice '{id}'")));
        invoices.MapGet("/{id:guid}.csv", (HttpContext context, NpgsqlDataSource db, Guid id) =>
            BillingCaller.AsTenantAsync(context, async tenant => await FindAsync(db, tenant, id, context.RequestAborted) is { } invoice
                ? Results.File(InvoiceCsv.Render(invoice), "text/csv; charset=utf-8", $"invoice-{FileName(invoice)}.csv") : NotFound($"Invoice '{id}'")));
        invoices.MapGet("/{id:guid}.pdf", (HttpContext context, NpgsqlDataSource db, Guid id) =>
            BillingCaller.AsTenantAsync(context, async tenant => await FindAsync(db, tenant, id, context.RequestAborted) is { } invoice
                ? Results.File(InvoicePdf.Render(invoice), "application/pdf", $"invoice-{FileName(invoice)}.pdf") : NotFound($"Invoice '{id}'")));
        invoices.MapPost("/{id:guid}/void", (HttpContext context, NpgsqlDataSource db, TimeProvider time, Guid id) =>
            BillingCaller.AsTenantAsync(context, tenant => SettleAsync(db, tenant, id, "void", time.GetUtcNow(), RequestActor.Of(context), context.RequestAborted)));
        invoices.MapPost("/{id:guid}/mark-paid", (HttpContext context, NpgsqlDataSource db, TimeProvider time, Guid id) =>
            BillingCaller.AsTenantAsync(context, tenant => SettleAsync(db, tenant, id, "paid", time.GetUtcNow(), RequestActor.Of(context), context.RequestAborted)));

        app.MapGet("/v1/customers/{id}/upcoming-invoice", (HttpContext context, NpgsqlDataSource db, InvoiceEngine engine, TimeProvider time, string id) =>
            BillingCaller.AsTenantAsync(context, async tenant =>
            {
                var customer = await db.InTenantAsync(tenant, (c, t) => BillingRecords.CustomerAsync(c, t, id, context.RequestAborted), context.RequestAborted);
                if (customer is null)
                {
                    return NotFound($"Customer '{id}'");
                }

                return await engine.UpcomingAsync(tenant, customer, time.GetUtcNow(), context.RequestAborted) is { } upcoming
                    ? Results.Ok(upcoming) : NotFound($"A subscription of customer '{id}' running now");
            })).WithTags("Invoices");

        app.MapGet("/v1/statements/daily", (HttpContext context, DailyStatements statements, string? from, string? to, string? format) =>
            BillingCaller.AsTenantAsync(context, tenant => StatementsAsync(context, statements, tenant, from, to, format))).WithTags("Statements");

        app.MapGet("/v1/billing/settings", (HttpContext context, NpgsqlDataSource db) =>
            BillingCaller.AsTenantAsync(context, tenant => SettingsAsync(db, tenant, null, null, context.RequestAborted))).WithTags("Invoices");
        app.MapPatch("/v1/billing/settings", (HttpContext context, NpgsqlDataSource db, System.Text.Json.JsonElement body) =>
            BillingCaller.AsTenantAsync(context, tenant =>
            {
                var json = new RequestJson(body);
                var grace = json.Integer("grace_hours", 0, 24 * 31);
                if (grace is null && json.Errors.Count == 0)
                {
                    json.Errors["grace_hours"] = ["'grace_hours' is required: hours from 0 to 744 after a period ends before its invoice is issued."];
                }

                return json.Errors.Count > 0 ? Task.FromResult(Invalid(json.Errors)) : SettingsAsync(db, tenant, grace, RequestActor.Of(context), context.RequestAborted);
            })).WithTags("Invoices");

        app.MapPost("/v1/billing/run", (HttpContext context, InvoiceEngine engine, DailyStatements statements, DailyExports exports, BillingWebhookSender webhooks, TimeProvider time) =>
            BillingCaller.AsTenantAsync(context, async tenant => Results.Ok(new JsonObject
            {
                ["issued"] = await engine.RunAsync(tenant, time.GetUtcNow(), context.RequestAborted),
                ["days_closed"] = await statements.CloseDueAsync(tenant, time.GetUtcNow(), context.RequestAborted),
                ["days_exported"] = await exports.ExportDueAsync(tenant, time.GetUtcNow(), context.RequestAborted),
                ["webhooks_delivered"] = await webhooks.DeliverDueAsync(tenant, context.RequestAborted),
            }))).WithTags("Invoices");
    }

    /// <summary>An invoice's state as its audit records show it: who, which period, how much, and its status (not every line).</summary>
    private static JsonObject InvoiceState(JsonObject invoice) => new(invoice
        .Where(p => p.Key is "id" or "number" or "status" or "customer" or "plan" or "period" or "total_usd" or "issued_at" or "paid_at" or "voided_at")
        .Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));

    private static Task<IResult> SettingsAsync(NpgsqlDataSource db, Guid tenant, int? graceHours, AuditActor? actor, CancellationToken ct) =>
        db.InTenantAsync(tenant, async (c, t) =>
        {
            await BillingRecords.ExecuteAsync(c, t, "INSERT INTO billing_settings (tenant_id) VALUES (@tenant) ON CONFLICT (tenant_id) DO NOTHING", ct, ("tenant", tenant));
            if (graceHours is { } grace)
            {
                var previous = (await BillingRecords.ReadAsync(c, t, "SELECT grace_hours FROM billing_settings FOR UPDATE", r => r.GetInt32(0), ct)).Single();
                await BillingRecords.ExecuteAsync(c, t, "UPDATE billing_settings SET grace_hours = @grace", ct, ("grace", grace));
                await AuditOutbox.AppendAsync(c, t, AuditChange.Of<object>(tenant, AuditKinds.BillingSettingsChanged, "billing_settings",
                    new { grace_hours = previous }, new { grace_hours = grace }), actor!, ct);
            }

            var (hours, last) = (await BillingRecords.ReadAsync(c, t, "SELECT grace_hours, last_invoice_number FROM billing_settings", r => (r.GetInt32(0), r.GetInt64(1)), ct)).Single();
            return Results.Ok(new JsonObject { ["grace_hours"] = hours, ["last_invoice_number"] = last });
        }, ct);

    private const string InvoiceColumns = "i.id, i.number, i.status, i.document::text, i.issued_at, i.paid_at, i.voided_at, i.updated_at";

    private static JsonObject Read(NpgsqlDataReader r)
    {
        var document = JsonNode.Parse(r.GetString(3))!.AsObject();
        var invoice = new JsonObject
        {
            ["id"] = r.GetGuid(0).ToString(),
            ["number"] = r.IsDBNull(1) ? null : r.GetInt64(1),
            ["status"] = r.GetString(2),
        };
        foreach (var (name, value) in document.ToList())
        {
            document.Remove(name);
            invoice[name] = value;
        }

        invoice["issued_at"] = r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4).ToString("O");
        invoice["paid_at"] = r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5).ToString("O");
        invoice["voided_at"] = r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6).ToString("O");
        invoice["updated_at"] = r.GetFieldValue<DateTimeOffset>(7).ToString("O");
        return invoice;
    }

    private static string FileName(JsonObject invoice) => invoice["number"]?.ToString() is { Length: > 0 } number ? number : "draft-" + invoice["id"];

    private static Task<JsonObject?> FindAsync(NpgsqlDataSource db, Guid tenant, Guid id, CancellationToken ct) =>
        db.InTenantAsync(tenant, async (c, t) => (await BillingRecords.ReadAsync(c, t, $"SELECT {InvoiceColumns} FROM invoices i WHERE i.id = @id", Read, ct, ("id", id))).FirstOrDefault(), ct);

    private static async Task<IResult> ListAsync(NpgsqlDataSource db, Guid tenant, string? customer, string? status, CancellationToken ct)
    {
        if (status is not null && !Statuses.Contains(status))
        {
            return Invalid("status", $"'status' must be one of {string.Join(", ", Statuses)}.");
        }

        return await db.InTenantAsync(tenant, async (c, t) =>
        {
            Guid? only = null;
            if (customer is not null)
            {
                if (await BillingRecords.CustomerAsync(c, t, customer, ct) is not { } found)
                {
                    return NotFound($"Customer '{customer}'");
                }

                only = found.Id;
            }

            var list = await BillingRecords.ReadAsync(c, t,
                $"SELECT {InvoiceColumns} FROM invoices i WHERE (@customer::uuid IS NULL OR i.customer_id = @customer) AND (@status::text IS NULL OR i.status = @status) " +
                "ORDER BY i.period_start DESC, i.number DESC NULLS FIRST LIMIT 1000",
                Read, ct, ("customer", (object?)only ?? DBNull.Value), ("status", (object?)status ?? DBNull.Value));
            return Results.Ok(new JsonObject { ["invoices"] = new JsonArray([.. list]) });
        }, ct);
    }

    /// <summary>issued → paid or void; anything else is a 409 naming the status it has (an issued invoice's figures never change).</summary>
    private static Task<IResult> SettleAsync(NpgsqlDataSource db, Guid tenant, Guid id, string to, DateTimeOffset now, AuditActor actor, CancellationToken ct) =>
        db.InTenantAsync(tenant, async (c, t) =>
        {
            var status = (await BillingRecords.ReadAsync(c, t, "SELECT status FROM invoices WHERE id = @id FOR UPDATE", r => r.GetString(0), ct, ("id", id))).FirstOrDefault();
            if (status is null)
            {
                return NotFound($"Invoice '{id}'");
            }

            if (status != "issued")
            {
                return Conflict($"Invoice '{id}' is {status}: only an issued invoice can be marked {(to == "paid" ? "paid" : "void")}.");
            }

            var before = (await BillingRecords.ReadAsync(c, t, $"SELECT {InvoiceColumns} FROM invoices i WHERE i.id = @id", Read, ct, ("id", id))).Single();
            await BillingRecords.ExecuteAsync(c, t,
                $"UPDATE invoices SET status = @status, {(to == "paid" ? "paid_at" : "voided_at")} = @now, updated_at = @now WHERE id = @id", ct,
                ("status", to), ("now", now), ("id", id));
            var after = (await BillingRecords.ReadAsync(c, t, $"SELECT {InvoiceColumns} FROM invoices i WHERE i.id = @id", Read, ct, ("id", id))).Single();
            await AuditOutbox.AppendAsync(c, t, AuditChange.Of(tenant, to == "paid" ? AuditKinds.InvoicePaid : AuditKinds.InvoiceVoided,
                $"invoice:{after["number"]}", InvoiceState(before), InvoiceState(after)), actor, ct);
            await BillingEvents.RecordAsync(c, t, tenant, to == "paid" ? BillingEvents.InvoicePaid : BillingEvents.InvoiceVoided, $"invoice:{id}",
                new JsonObject { ["invoice"] = BillingEvents.InvoiceSummary(after) }, now, ct);
            return Results.Ok(after);
        }, ct);

    private static async Task<IResult> StatementsAsync(HttpContext context, DailyStatements statements, Guid tenant, string? from, string? to, string? format)
    {
        var errors = new Dictionary<string, string[]>();
        DateOnly? Day(string name, string? value)
        {
            if (IsoDay.Parse(value) is { } day)
            {
                return day;
            }

            errors[name] = [$"'{name}' is required: a UTC date, YYYY-MM-DD."];
            return null;
        }

        var (start, end) = (Day("from", from), Day("to", to));
        if (start is not null && end is not null && (end <= start || end.Value.DayNumber - start.Value.DayNumber > 400))
        {
            errors["to"] = ["'to' must be after 'from', at most 400 days on."];
        }

        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        var (closed, rows) = await statements.ReadAsync(tenant, start!.Value, end!.Value, context.RequestAborted);
        if (format == "csv" || context.Request.Headers.Accept.ToString().Contains("text/csv", StringComparison.OrdinalIgnoreCase))
        {
            return Results.File(CsvTable.Render(DailyStatements.Columns, rows.Select(DailyStatements.Fields)), "text/csv; charset=utf-8", $"statements-{from}-{to}.csv");
        }

        return Results.Ok(new JsonObject
        {
            ["from"] = from, ["to"] = to,
            ["closed_days"] = new JsonArray([.. closed.Select(d => (JsonNode)IsoDay.Format(d))]),
            ["rows"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonObject(DailyStatements.Columns.Zip(DailyStatements.Fields(r), (k, v) => KeyValuePair.Create(k, (JsonNode?)v))))]),
        });
    }
}
