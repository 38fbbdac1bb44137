using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.BillingPipeline.Billing;
using Tokage.Integrations;
using Tokage.Webhooks;
using static Tokage.BillingPipeline.Apis.BillingErrors;

namespace Tokage.BillingPipeline.Apis;

/// <summary>
/// The tenant's billing webhooks (<c>/v1/billing/webhooks</c>: the signing secret is shown once, when one is created) and
/// the events recorded for them with each delivery's state (<c>/v1/billing/events</c>).
/// </summary>
public static class WebhooksApi
{
    private const int MaxWebhooks = 10;

    public static void MapWebhooksApi(this WebApplication app)
    {
        var webhooks = app.MapGroup("/v1/billing/webhooks").WithTags("Billing webhooks");
        webhooks.MapPost("/", (HttpContext context, NpgsqlDataSource db, IOptions<WebhookTargetsOptions> targets, TimeProvider time, JsonElement body) =>
            BillingCaller.AsTenantAsync(context, tenant => CreateAsync(db, tenant, new RequestJson(body), targets.Value, time.GetUtcNow(), RequestActor.Of(context), context.RequestAborted)));
        webhooks.MapGet("/", (HttpContext context, NpgsqlDataSource db) =>
            BillingCaller.AsTenantAsync(context, async tenant => Results.Ok(new JsonObject
            {
                ["webhooks"] = new JsonArray([.. await db.InTenantAsync(tenant, (c, t) => ListAsync(c, t, null, context.RequestAborted), context.RequestAborted)]),
            })));
        webhooks.MapDelete("/{id:guid}", (HttpContext context, NpgsqlDataSource db, Guid id) =>
            BillingCaller.AsTenantAsync(context, tenant => DeleteAsync(db, tenant, id, RequestActor.Of(context), context.RequestAborted)));

        app.MapGet("/v1/billing/events", (HttpContext context, NpgsqlDataSource db, string? type, int? limit) =>
            BillingCaller.AsTenantAsync(context, tenant => EventsAsync(db, tenant, type, limit, context.RequestAborted))).WithTags("Billing webhooks");
    }

    private static async Task<IResult> CreateAsync(
        NpgsqlDataSource db, Guid tenant, RequestJson json, WebhookTargetsOptions targets, DateTimeOffset now, AuditActor actor, CancellationToken ct)
    {
        if (!json.IsObject)
        {
            return Invalid("", "The body must be a JSON object.");
        }

        var url = json.String("url", 2000, required: true);
        var events = json.Strings("events", 64, BillingEvents.Types.Length) ?? (json.Errors.ContainsKey("events") ? null : [.. BillingEvents.Types]);
        if (url is not null && WebhookTargets.Problem(url, targets) is { } problem)
        {
            json.Errors["url"] = [$"'url' {problem}."];
        }

        if (events?.FirstOrDefault(e => !BillingEvents.Types.Contains(e)) is { } unknown)
        {
            json.Errors["events"] = [$"'{unknown}' is not a billing event; they are {string.Join(", ", BillingEvents.Types)}."];
        }
        else if (events is [])
        {
            json.Errors["events"] = ["'events' names at least one event type (omit it for all of them)."];
        }

        if (json.Errors.Count > 0)
        {
            return Invalid(json.Errors);
        }

        var id = Guid.CreateVersion7();
        var secret = "whsec_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        return await db.InTenantAsync(tenant, async (c, t) =>
        {
            if ((await BillingRecords.ReadAsync(c, t, "SELECT count(*) FROM billing_webhooks", r => r.GetInt64(0), ct)).Single() >= MaxWebhooks)
            {
                return Conflict($"A tenant has at most {MaxWebhooks} billing webhooks: delete one first.");
            }

            await BillingRecords.ExecuteAsync(c, t,
                "INSERT INTO billing_webhooks (id, tenant_id, url, signing_secret, events, created_at) VALUES (@id, @tenant, @url, @secret, @events, @now)", ct,
                ("id", id), ("tenant", tenant), ("url", url!), ("secret", secret), ("events", events!.Distinct().ToArray()), ("now", now));
            var created = (await ListAsync(c, t, id, ct)).Single();
            await AuditOutbox.AppendAsync(c, t, AuditChange.Of<JsonObject>(tenant, AuditKinds.WebhookCreated, $"billing_webhook:{id}", null, Redacted(created)), actor, ct);
            created["signing_secret"] = secret;
            return Results.Created($"/v1/billing/webhooks/{id}", created);
        }, ct);
    }

    private static Task<IResult> DeleteAsync(NpgsqlDataSource db, Guid tenant, Guid id, AuditActor actor, CancellationToken ct) =>
        db.InTenantAsync(tenant, async (c, t) =>
        {
            if ((await ListAsync(c, t, id, ct)).SingleOrDefault() is not { } before)
            {
                return NotFound($"Billing webhook '{id}'");
            }

            // Its pending deliveries go with it: nothing is sent to an endpoint the tenant removed.
            await BillingRecords.ExecuteAsync(c, t, "DELETE FROM billing_webhooks WHERE id = @id", ct, ("id", id));
            await AuditOutbox.AppendAsync(c, t, AuditChange.Of<JsonObject>(tenant, AuditKinds.WebhookDeleted, $"billing_webhook:{id}", Redacted(before), null), actor, ct);
            return Results.NoContent();
        }, ct);

    /// <summary>The webhooks as the API shows them (never the secret), with their deliveries' counts.</summary>
    private static async Task<List<JsonNode>> ListAsync(NpgsqlConnection c, NpgsqlTransaction t, Guid? only, CancellationToken ct) =>
        [.. await BillingRecords.ReadAsync(c, t, $"""
            SELECT w.id, w.url, w.events, w.created_at,
                   count(*) FILTER (WHERE d.status = 'pending'), count(*) FILTER (WHERE d.status = 'delivered'), count(*) FILTER (WHERE d.status = 'failed')
            FROM billing_webhooks w LEFT JOIN billing_webhook_deliveries d ON d.webhook_id = w.id
            {(only is null ? "" : "WHERE w.id = @id")}
            GROUP BY w.id ORDER BY w.created_at
            """, r => (JsonNode)new JsonObject
            {
                ["id"] = r.GetGuid(0).ToString(), ["url"] = r.GetString(1), ["events"] = new JsonArray([.. r.GetFieldValue<string[]>(2).Select(e => (JsonNode)e)]),
                ["created_at"] = r.GetFieldValue<DateTimeOffset>(3).ToString("O"),
                ["deliveries"] = new JsonObject { ["pending"] = r.GetInt64(4), ["delivered"] = r.GetInt64(5), ["failed"] = r.GetInt64(6) },
            }, ct, only is null ? [] : [("id", only.Value)])];

    /// <summary>What the audit record keeps of a webhook: its scheme and host only (a path can carry a secret token), and its events.</summary>
    private static JsonObject Redacted(JsonNode webhook) => new()
    {
        ["url"] = new Uri((string)webhook["url"]!).GetLeftPart(UriPartial.Authority),
        ["events"] = webhook["events"]!.DeepClone(),
    };

    private static async Task<IResult> EventsAsync(NpgsqlDataSource db, Guid tenant, string? type, int? limit, CancellationToken ct)
    {
        if (type is not null && !BillingEvents.Types.Contains(type))
        {
            return Invalid("type", $"'type' is one of {string.Join(", ", BillingEvents.Types)}.");
        }

        if (limit is < 1 or > 1000)
        {
            return Invalid("limit", "'limit' is 1 to 1000.");
        }

        var rows = await db.InTenantAsync(tenant, (c, t) => BillingRecords.ReadAsync(c, t, $"""
            SELECT e.body, coalesce(jsonb_agg(jsonb_build_object('webhook_id', d.webhook_id, 'status', d.status, 'attempts', d.attempts,
                       'last_status_code', d.last_status_code, 'last_error', d.last_error, 'delivered_at', d.delivered_at) ORDER BY d.webhook_id)
                       FILTER (WHERE d.id IS NOT NULL), '[]')::text
            FROM billing_events e LEFT JOIN billing_webhook_deliveries d ON d.event_id = e.id
            {(type is null ? "" : "WHERE e.type = @type")}
            GROUP BY e.id ORDER BY e.created_at DESC, e.id DESC LIMIT @limit
            """, r =>
            {
                var node = JsonNode.Parse(r.GetString(0))!;
                node["deliveries"] = JsonNode.Parse(r.GetString(1));
                return node;
            }, ct, ("type", type ?? ""), ("limit", limit ?? 100)), ct);
        return Results.Ok(new JsonObject { ["events"] = new JsonArray([.. rows]) });
    }
}
