using System.Text.Json.Nodes;
using Npgsql;

namespace Tokage.BillingPipeline.Billing;

/// <summary>
/// What billing reports to the tenant's webhooks. An event is recorded in the transaction of the change it reports
/// (issuing, voiding, marking paid, drawing a grant to nothing) with a delivery to each webhook subscribed to its type;
/// its (type, subject) is unique, so a change reported twice — a retried pass, another replica — records it once.
/// </summary>
public static class BillingEvents
{
    public const string InvoiceIssued = "invoice.issued";
    public const string InvoiceVoided = "invoice.voided";
    public const string InvoicePaid = "invoice.paid";
    public const string CreditGrantDepleted = "credit_grant.depleted";

    public static readonly string[] Types = [InvoiceIssued, InvoiceVoided, InvoicePaid, CreditGrantDepleted];

    private const string RecordSql = """
        WITH event AS (
            INSERT INTO billing_events (id, tenant_id, type, subject, body, created_at) VALUES (@id, @tenant, @type, @subject, @body, @now)
            ON CONFLICT (tenant_id, type, subject) DO NOTHING
            RETURNING id)
        INSERT INTO billing_webhook_deliveries (id, tenant_id, webhook_id, event_id, next_attempt_at, created_at)
        SELECT gen_random_uuid(), @tenant, w.id, event.id, @now, @now FROM event CROSS JOIN billing_webhooks w WHERE @type = ANY (w.events)
        """;

    /// <summary>The event as a statement of the change's own batch.</summary>
    public static NpgsqlBatchCommand Record(Guid tenant, string type, string subject, JsonObject data, DateTimeOffset at)
    {
        var (id, body) = Body(tenant, type, data, at);
        return BillingRecords.BatchCommand(RecordSql, ("id", id), ("tenant", tenant), ("type", type), ("subject", subject), ("body", body), ("now", at));
    }

    /// <summary>The event, written in the change's own transaction.</summary>
    public static Task<int> RecordAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenant, string type, string subject, JsonObject data, DateTimeOffset at, CancellationToken ct)
    {
        var (id, body) = Body(tenant, type, data, at);
        return BillingRecords.ExecuteAsync(connection, transaction, RecordSql, ct, ("id", id), ("tenant", tenant), ("type", type), ("subject", subject), ("body", body), ("now", at));
    }

    /// <summary>An invoice as events show it: who, which period, how much and its status (the lines are at <c>GET /v1/invoices/{id}</c>).</summary>
    public static JsonObject InvoiceSummary(JsonObject invoice) => new(invoice
        .Where(p => p.Key is "id" or "number" or "status" or "customer" or "customer_name" or "plan" or "plan_version" or "currency" or "period_start"
            or "period_end" or "subtotal_usd" or "credits_usd" or "total_usd" or "issued_at" or "paid_at" or "voided_at")
        .Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));

    private static (Guid Id, string Body) Body(Guid tenant, string type, JsonObject data, DateTimeOffset at)
    {
        var id = Guid.CreateVersion7();
        return (id, new JsonObject
        {
            ["id"] = id.ToString(), ["type"] = type, ["tenant_id"] = tenant.ToString(), ["created_at"] = at.ToString("O"), ["data"] = data,
        }.ToJsonString());
    }
}
