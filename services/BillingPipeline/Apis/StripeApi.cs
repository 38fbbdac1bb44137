using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.BillingPipeline.Billing;
using Tokage.BillingPipeline.Stripe;
using Tokage.Integrations;
using static Tokage.BillingPipeline.Apis.BillingErrors;

namespace Tokage.BillingPipeline.Apis;

/// <summary>
/// The tenant's Stripe connection (<c>/v1/stripe/connection</c>: its secret key, kept encrypted and never returned) and
/// the meter events sent or waiting (<c>/v1/stripe/meter-events</c>, parked ones with Stripe's message).
/// </summary>
public static class StripeApi
{
    public static void MapStripeApi(this WebApplication app)
    {
        var stripe = app.MapGroup("/v1/stripe").WithTags("Stripe");
        stripe.MapPut("/connection", (HttpContext context, NpgsqlDataSource db, StripeSecretKeys keys, TimeProvider time, JsonElement body) =>
            BillingCaller.AsTenantAsync(context, tenant => ConnectAsync(db, keys, tenant, new RequestJson(body), time.GetUtcNow(), RequestActor.Of(context), context.RequestAborted)));
        stripe.MapGet("/connection", (HttpContext context, NpgsqlDataSource db) =>
            BillingCaller.AsTenantAsync(context, tenant => StatusAsync(db, tenant, context.RequestAborted)));
        stripe.MapDelete("/connection", (HttpContext context, NpgsqlDataSource db) =>
            BillingCaller.AsTenantAsync(context, tenant => DisconnectAsync(db, tenant, RequestActor.Of(context), context.RequestAborted)));
        stripe.MapGet("/meter-events", (HttpContext context, NpgsqlDataSource db, string? status, int? limit) =>
            BillingCaller.AsTenantAsync(context, tenant => MeterEventsAsync(db, tenant, status, limit, context.RequestAborted)));
    }

    private static async Task<IResult> ConnectAsync(NpgsqlDataSource db, StripeSecretKeys keys, Guid tenant, RequestJson json, DateTimeOffset now, AuditActor actor, CancellationToken ct)
    {
        if (keys.Unavailable is { } why)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Stripe is not configured", detail: why);
        }

        if (!json.IsObject)
        {
            return Invalid("", "The body must be a JSON object.");
        }

        var secret = json.String("secret_key", 255, required: true);
        if (json.Errors.Count > 0)
        {
            return Invalid(json.Errors);
        }

        // A secret or restricted key, test or live: what Stripe's API takes to create meter events.
        var parts = secret!.Split('_');
        if (parts.Length < 3 || parts[0] is not ("sk" or "rk") || parts[1] is not ("test" or "live") || parts[^1].Length < 8)
        {
            return Invalid("secret_key", "'secret_key' must be a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_test_…, rk_live_…).");
        }

        var hint = $"{parts[0]}_{parts[1]}_…{secret[^4..]}";
        var livemode = parts[1] == "live";
        var status = await db.InTenantAsync(tenant, async (c, t) =>
        {
            var before = await ConnectionAsync(c, t, ct);
            await BillingRecords.ExecuteAsync(c, t, """
                INSERT INTO stripe_connections (tenant_id, secret_key_protected, key_hint, livemode, connected_at, updated_at)
                VALUES (@tenant, @secret, @hint, @live, @now, @now)
                ON CONFLICT (tenant_id) DO UPDATE SET secret_key_protected = @secret, key_hint = @hint, livemode = @live, updated_at = @now
                """, ct, ("tenant", tenant), ("secret", keys.Protect(tenant, secret)), ("hint", hint), ("live", livemode), ("now", now));
            var after = await ConnectionAsync(c, t, ct);
            await AuditOutbox.AppendAsync(c, t, AuditChange.Of(tenant, AuditKinds.StripeConnected, "stripe_connection", before, after), actor, ct);
            return after;
        }, ct);
        return Results.Ok(status);
    }

    private static async Task<IResult> StatusAsync(NpgsqlDataSource db, Guid tenant, CancellationToken ct) =>
        Results.Ok(await db.InTenantAsync(tenant, async (c, t) =>
        {
            var status = await ConnectionAsync(c, t, ct) ?? new JsonObject { ["connected"] = false };
            var counts = await BillingRecords.ReadAsync(c, t, "SELECT status, count(*) FROM stripe_meter_events GROUP BY status", r => (r.GetString(0), r.GetInt64(1)), ct);
            status["meter_events"] = new JsonObject
            {
                ["pending"] = counts.Where(x => x.Item1 == "pending").Sum(x => x.Item2),
                ["sent"] = counts.Where(x => x.Item1 == "sent").Sum(x => x.Item2),
                ["parked"] = counts.Where(x => x.Item1 == "parked").Sum(x => x.Item2),
            };
            return status;
        }, ct));

    private static async Task<IResult> DisconnectAsync(NpgsqlDataSource db, Guid tenant, AuditActor actor, CancellationToken ct) =>
        await db.InTenantAsync(tenant, async (c, t) =>
        {
            if (await ConnectionAsync(c, t, ct) is not { } before)
            {
                return NotFound("A Stripe connection");
            }

            await BillingRecords.ExecuteAsync(c, t, "DELETE FROM stripe_connections", ct);
            await AuditOutbox.AppendAsync(c, t, AuditChange.Of<JsonObject>(tenant, AuditKinds.StripeDisconnected, "stripe_connection", before, null), actor, ct);
            return Results.NoContent();
        }, ct);

    private static async Task<IResult> MeterEventsAsync(NpgsqlDataSource db, Guid tenant, string? status, int? limit, CancellationToken ct)
    {
        if (status is not (null or "pending" or "sent" or "parked"))
        {
            return Invalid("status", "'status' is pending, sent or parked.");
        }

        if (limit is < 1 or > 1000)
        {
            return Invalid("limit", "'limit' is 1 to 1000.");
        }

        var rows = await db.InTenantAsync(tenant, (c, t) => BillingRecords.ReadAsync(c, t, $"""
            SELECT e.identifier, cu.external_id, e.charge_key, e.event_name, e.stripe_customer_id, e.hour, e.seq, e.value, e.cumulative, e.status,
                   e.attempts, e.last_error, e.sent_at, e.created_at
            FROM stripe_meter_events e JOIN customers cu ON cu.id = e.customer_id
            {(status is null ? "" : "WHERE e.status = @status")}
            ORDER BY e.hour DESC, e.seq DESC LIMIT @limit
            """, r => (JsonNode)new JsonObject
            {
                ["identifier"] = r.GetString(0), ["customer"] = r.GetString(1), ["charge"] = r.GetString(2), ["event_name"] = r.GetString(3),
                ["stripe_customer_id"] = r.GetString(4), ["hour"] = r.GetFieldValue<DateTimeOffset>(5).ToString("O"), ["seq"] = r.GetInt32(6),
                ["value"] = r.GetDecimal(7).ToString("0", System.Globalization.CultureInfo.InvariantCulture),
                ["hour_total"] = r.GetDecimal(8).ToString("0", System.Globalization.CultureInfo.InvariantCulture),
                ["status"] = r.GetString(9), ["attempts"] = r.GetInt32(10), ["last_error"] = r.IsDBNull(11) ? null : r.GetString(11),
                ["sent_at"] = r.IsDBNull(12) ? null : r.GetFieldValue<DateTimeOffset>(12).ToString("O"), ["created_at"] = r.GetFieldValue<DateTimeOffset>(13).ToString("O"),
            }, ct, [("status", status ?? ""), ("limit", limit ?? 100)]), ct);
        return Results.Ok(new JsonObject { ["meter_events"] = new JsonArray([.. rows]) });
    }

    /// <summary>The connection as the API shows it (never the key), or null.</summary>
    private static async Task<JsonObject?> ConnectionAsync(NpgsqlConnection c, NpgsqlTransaction t, CancellationToken ct) =>
        (await BillingRecords.ReadAsync(c, t, "SELECT key_hint, livemode, connected_at, updated_at FROM stripe_connections", r => new JsonObject
        {
            ["connected"] = true, ["key_hint"] = r.GetString(0), ["livemode"] = r.GetBoolean(1),
            ["connected_at"] = r.GetFieldValue<DateTimeOffset>(2).ToString("O"), ["updated_at"] = r.GetFieldValue<DateTimeOffset>(3).ToString("O"),
        }, ct)).SingleOrDefault();
}
