using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Npgsql;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.Billing.Plans;
using Tokage.BillingPipeline.Billing;
using Tokage.Integrations;
using static Tokage.BillingPipeline.Apis.BillingErrors;

namespace Tokage.BillingPipeline.Apis;

/// <summary>
/// Plans (<c>/v1/plans</c>: versioned, append-only; posting an existing key adds a version) and subscriptions
/// (<c>/v1/subscriptions</c>: a customer on a plan version from a start date, billed monthly on an anchor day in the
/// customer's zone; a plan change takes effect at the next period).
/// </summary>
public static partial class PlansApi
{
    public static void MapPlansApi(this WebApplication app)
    {
        var plans = app.MapGroup("/v1/plans").WithTags("Plans");
        plans.MapPost("/", (HttpContext context, NpgsqlDataSource db, TimeProvider time, JsonElement body) =>
            BillingCaller.AsTenantAsync(context, tenant => AddVersionAsync(db, tenant, body, time.GetUtcNow(), RequestActor.Of(context), context.RequestAborted)));
        plans.MapGet("/", (HttpContext context, NpgsqlDataSource db) =>
            BillingCaller.AsTenantAsync(context, async tenant =>
            {
                var versions = await db.InTenantAsync(tenant, (c, t) => BillingRecords.PlanVersionsAsync(c, t, context.RequestAborted), context.RequestAborted);
                return Results.Ok(new JsonObject { ["plans"] = new JsonArray([.. versions.GroupBy(v => v.Key).Select(g => (JsonNode)g.Last().ToJson())]) });
            }));
        plans.MapGet("/{key}", (HttpContext context, NpgsqlDataSource db, string key) =>
            BillingCaller.AsTenantAsync(context, async tenant =>
            {
                var versions = await db.InTenantAsync(tenant, (c, t) => BillingRecords.PlanVersionsAsync(c, t, context.RequestAborted, key), context.RequestAborted);
                return versions.Count == 0
                    ? NotFound($"Plan '{key}'")
                    : Results.Ok(new JsonObject
                    {
                        ["key"] = key, ["name"] = versions[^1].Name, ["latest_version"] = versions[^1].Version,
                        ["versions"] = new JsonArray([.. versions.Select(v => (JsonNode)v.ToJson())]),
                    });
            }));

        var subscriptions = app.MapGroup("/v1/subscriptions").WithTags("Subscriptions");
        subscriptions.MapPost("/", (HttpContext context, NpgsqlDataSource db, TimeProvider time, JsonElement body) =>
            BillingCaller.AsTenantAsync(context, tenant => SubscribeAsync(db, tenant, new RequestJson(body), time.GetUtcNow(), RequestActor.Of(context), context.RequestAborted)));
        subscriptions.MapGet("/", (HttpContext context, NpgsqlDataSource db, string? customer) =>
            BillingCaller.AsTenantAsync(context, tenant => db.InTenantAsync(tenant, async (c, t) =>
            {
                var ct = context.RequestAborted;
                Guid? only = null;
                if (customer is not null)
                {
                    if (await BillingRecords.CustomerAsync(c, t, customer, ct) is not { } found)
                    {
                        return NotFound($"Customer '{customer}'");
                    }

                    only = found.Id;
                }

                var (customers, versions) = ((await BillingRecords.CustomersAsync(c, t, ct)).ToDictionary(x => x.Id), (await BillingRecords.PlanVersionsAsync(c, t, ct)).ToDictionary(v => v.Id));
                var list = await BillingRecords.SubscriptionsAsync(c, t, ct, only);
                return Results.Ok(new JsonObject { ["subscriptions"] = new JsonArray([.. list.Select(s => (JsonNode)Json(s, customers[s.CustomerId], versions))]) });
            }, context.RequestAborted)));
        subscriptions.MapPatch("/{id:guid}", (HttpContext context, NpgsqlDataSource db, TimeProvider time, Guid id, JsonElement body) =>
            BillingCaller.AsTenantAsync(context, tenant => ChangeAsync(db, tenant, id, new RequestJson(body), time.GetUtcNow(), RequestActor.Of(context), context.RequestAborted)));
    }

    private static async Task<IResult> AddVersionAsync(NpgsqlDataSource db, Guid tenant, JsonElement body, DateTimeOffset now, AuditActor actor, CancellationToken ct)
    {
        var json = new RequestJson(body);
        if (!json.IsObject)
        {
            return Invalid("", "The body must be a JSON object.");
        }

        var key = json.String("key", 100, required: true);
        if (key is not null && !KeyPattern().IsMatch(key))
        {
            json.Errors["key"] = ["'key' must be 1–100 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit."];
        }

        var name = json.String("name", 200);
        var definition = PlanJson.Read(body, json.Errors);
        if (json.Errors.Count > 0)
        {
            return Invalid(json.Errors);
        }

        try
        {
            var created = await db.InTenantAsync(tenant, async (c, t) =>
            {
                // The plan row is the lock two concurrent posts of one key queue on, so versions stay 1, 2, 3, …
                await BillingRecords.ExecuteAsync(c, t,
                    "INSERT INTO plans (id, tenant_id, key, name, created_at) VALUES (@id, @tenant, @key, @name, @now) ON CONFLICT (tenant_id, key) DO NOTHING",
                    ct, ("id", Guid.CreateVersion7()), ("tenant", tenant), ("key", key!), ("name", name ?? key!), ("now", now));
                var (planId, next) = (await BillingRecords.ReadAsync(c, t,
                    "SELECT p.id, coalesce((SELECT max(version) FROM plan_versions v WHERE v.plan_id = p.id), 0) + 1 FROM plans p WHERE p.key = @key FOR UPDATE",
                    r => (r.GetGuid(0), r.GetInt32(1)), ct, ("key", key!))).Single();
                if (name is not null)
                {
                    await BillingRecords.ExecuteAsync(c, t, "UPDATE plans SET name = @name WHERE id = @id", ct, ("name", name), ("id", planId));
                }

                await BillingRecords.ExecuteAsync(c, t, """
                    INSERT INTO plan_versions (id, tenant_id, plan_id, version, definition, created_at) VALUES (@id, @tenant, @plan, @version, @definition::jsonb, @now)
                    """, ct, ("id", Guid.CreateVersion7()), ("tenant", tenant), ("plan", planId), ("version", next),
                    ("definition", PlanJson.Write(definition!).ToJsonString()), ("now", now));
                var added = (await BillingRecords.PlanVersionsAsync(c, t, ct, key))[^1];
                await AuditOutbox.AppendAsync(c, t, AuditChange.Of(tenant, AuditKinds.PlanCreated, $"plan:{added.Key}@{added.Version}", null, added.ToJson()), actor, ct);
                return added;
            }, ct);
            return Results.Created($"/v1/plans/{created.Key}", created.ToJson());
        }
        catch (PostgresException ex) when (IsUniqueViolation(ex))
        {
            return Conflict($"Plan '{key}' got another version at the same moment; post again.");
        }
    }

    private static async Task<IResult> SubscribeAsync(NpgsqlDataSource db, Guid tenant, RequestJson json, DateTimeOffset now, AuditActor actor, CancellationToken ct)
    {
        if (!json.IsObject)
        {
            return Invalid("", "The body must be a JSON object.");
        }

        var customerId = json.String("customer", CustomersApi.MaxIdLength, required: true);
        var planKey = json.String("plan", 100, required: true);
        var version = json.Integer("plan_version", 1, int.MaxValue);
        var start = json.Date("start_date");
        var end = json.Date("end_date");
        var anchor = json.Integer("anchor_day", 1, 31);
        if (json.Errors.Count > 0)
        {
            return Invalid(json.Errors);
        }

        return await db.InTenantAsync(tenant, async (c, t) =>
        {
            if (await BillingRecords.CustomerAsync(c, t, customerId!, ct) is not { } customer)
            {
                return NotFound($"Customer '{customerId}'");
            }

            var versions = await BillingRecords.PlanVersionsAsync(c, t, ct, planKey);
            if (versions.Count == 0)
            {
                return NotFound($"Plan '{planKey}'");
            }

            if ((version is null ? versions[^1] : versions.FirstOrDefault(v => v.Version == version)) is not { } plan)
            {
                return Invalid("plan_version", $"Plan '{planKey}' has versions 1 to {versions[^1].Version}.");
            }

            var startDate = start ?? DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, TimeZoneInfo.FindSystemTimeZoneById(customer.TimeZone)).DateTime);
            if (end is not null && end <= startDate)
            {
                return Invalid("end_date", "'end_date' must be after 'start_date'.");
            }

            // One subscription at a time per customer: the customer row is the lock concurrent requests queue on.
            await BillingRecords.ExecuteAsync(c, t, "SELECT 1 FROM customers WHERE id = @id FOR UPDATE", ct, ("id", customer.Id));
            var overlapping = (await BillingRecords.SubscriptionsAsync(c, t, ct, customer.Id))
                .FirstOrDefault(s => startDate < (s.EndDate ?? DateOnly.MaxValue) && s.StartDate < (end ?? DateOnly.MaxValue));
            if (overlapping is not null)
            {
                return Invalid("start_date", $"Customer '{customer.ExternalId}' already has subscription {overlapping.Id} from {overlapping.StartDate:yyyy-MM-dd}" +
                    (overlapping.EndDate is { } e ? $" to {e:yyyy-MM-dd}" : " with no end") + ": subscriptions of a customer cannot overlap (end it, or change its plan).");
            }

            var id = Guid.CreateVersion7();
            await BillingRecords.ExecuteAsync(c, t, """
                INSERT INTO subscriptions (id, tenant_id, customer_id, plan_version_id, start_date, end_date, anchor_day, created_at)
                VALUES (@id, @tenant, @customer, @plan, @start, @end, @anchor, @now)
                """, ct, ("id", id), ("tenant", tenant), ("customer", customer.Id), ("plan", plan.Id), ("start", startDate),
                ("end", (object?)end ?? DBNull.Value), ("anchor", anchor ?? startDate.Day), ("now", now));
            var created = Json((await BillingRecords.SubscriptionsAsync(c, t, ct, customer.Id)).Single(s => s.Id == id), customer,
                (await BillingRecords.PlanVersionsAsync(c, t, ct)).ToDictionary(v => v.Id));
            await AuditOutbox.AppendAsync(c, t, AuditChange.Of(tenant, AuditKinds.SubscriptionCreated, $"subscription:{id}", null, created), actor, ct);
            return Results.Created($"/v1/subscriptions?customer={Uri.EscapeDataString(customer.ExternalId)}", created);
        }, ct);
    }

    /// <summary><c>{"plan": key, "plan_version": n}</c> moves the subscription at its next period; <c>{"end_date": "YYYY-MM-DD"}</c> ends it.</summary>
    private static async Task<IResult> ChangeAsync(NpgsqlDataSource db, Guid tenant, Guid id, RequestJson json, DateTimeOffset now, AuditActor actor, CancellationToken ct)
    {
        if (!json.IsObject)
        {
            return Invalid("", "The body must be a JSON object.");
        }

        var planKey = json.String("plan", 100);
        var version = json.Integer("plan_version", 1, int.MaxValue);
        var end = json.Date("end_date");
        if (planKey is null && end is null && json.Errors.Count == 0)
        {
            json.Errors["plan"] = ["Name a 'plan' (and optionally 'plan_version') to move to, or an 'end_date'."];
        }

        if (json.Errors.Count > 0)
        {
            return Invalid(json.Errors);
        }

        return await db.InTenantAsync(tenant, async (c, t) =>
        {
            var subscription = (await BillingRecords.SubscriptionsAsync(c, t, ct)).FirstOrDefault(s => s.Id == id);
            if (subscription is null)
            {
                return NotFound($"Subscription '{id}'");
            }

            var customer = (await BillingRecords.CustomersAsync(c, t, ct)).Single(x => x.Id == subscription.CustomerId);
            // The customer row is the lock every change to its subscriptions queues on (as when subscribing).
            await BillingRecords.ExecuteAsync(c, t, "SELECT 1 FROM customers WHERE id = @id FOR UPDATE", ct, ("id", customer.Id));
            var schedule = subscription.Schedule(TimeZoneInfo.FindSystemTimeZoneById(customer.TimeZone));
            var next = schedule.Periods().FirstOrDefault(p => p.Start > now);
            var issuedUntil = (await BillingRecords.ReadAsync(c, t,
                "SELECT max(period_end) FROM invoices WHERE subscription_id = @id AND status <> 'draft'",
                r => r.IsDBNull(0) ? (DateOnly?)null : r.GetFieldValue<DateOnly>(0), ct, ("id", id))).Single();
            // Everything is checked before anything changes: a refused request changes nothing.
            PlanVersionRecord? plan = null;
            if (planKey is not null)
            {
                // One pending change at a time; one that has taken effect for every issued period is folded in first,
                // so the periods before it keep their version and a later change cannot reprice them.
                if (subscription.NextPlanVersionId is not null && subscription.NextFrom is { } from && (issuedUntil is null || issuedUntil < from))
                {
                    return Conflict($"A change to another plan version from {from:yyyy-MM-dd} is pending: it must take effect (its first period issued) before another change.");
                }

                var versions = await BillingRecords.PlanVersionsAsync(c, t, ct, planKey);
                plan = version is null ? versions.LastOrDefault() : versions.FirstOrDefault(v => v.Version == version);
                if (plan is null)
                {
                    return versions.Count == 0 ? NotFound($"Plan '{planKey}'") : Invalid("plan_version", $"Plan '{planKey}' has versions 1 to {versions[^1].Version}.");
                }

                if (next is null)
                {
                    return Invalid("plan", "The subscription has no period after this one to change the plan in.");
                }
            }

            if (end is not null)
            {
                if (end <= subscription.StartDate)
                {
                    return Invalid("end_date", "'end_date' must be after the subscription's start date.");
                }

                if (issuedUntil is { } billed && end < billed)
                {
                    return Invalid("end_date", $"Periods up to {billed:yyyy-MM-dd} are invoiced: the subscription cannot end before that.");
                }

                var others = (await BillingRecords.SubscriptionsAsync(c, t, ct, customer.Id)).Where(s => s.Id != id);
                if (others.FirstOrDefault(s => subscription.StartDate < (s.EndDate ?? DateOnly.MaxValue) && s.StartDate < end) is { } overlapping)
                {
                    return Invalid("end_date", $"Ending on {end:yyyy-MM-dd} would overlap subscription {overlapping.Id} from {overlapping.StartDate:yyyy-MM-dd}: subscriptions of a customer cannot overlap.");
                }
            }

            var planVersions = (await BillingRecords.PlanVersionsAsync(c, t, ct)).ToDictionary(v => v.Id);
            var before = Json(subscription, customer, planVersions);
            if (plan is not null)
            {
                if (subscription.NextPlanVersionId is { } pending)
                {
                    await BillingRecords.ExecuteAsync(c, t,
                        "UPDATE subscriptions SET plan_version_id = @pending, next_plan_version_id = NULL, next_from = NULL WHERE id = @id", ct,
                        ("pending", pending), ("id", id));
                }

                await BillingRecords.ExecuteAsync(c, t, "UPDATE subscriptions SET next_plan_version_id = @plan, next_from = @from WHERE id = @id", ct,
                    ("plan", plan.Id), ("from", next!.StartDate), ("id", id));
            }

            if (end is not null)
            {
                await BillingRecords.ExecuteAsync(c, t, "UPDATE subscriptions SET end_date = @end WHERE id = @id", ct, ("end", end.Value), ("id", id));
            }

            var updated = Json((await BillingRecords.SubscriptionsAsync(c, t, ct, customer.Id)).Single(s => s.Id == id), customer, planVersions);
            await AuditOutbox.AppendAsync(c, t, AuditChange.Of(tenant, AuditKinds.SubscriptionChanged, $"subscription:{id}", before, updated), actor, ct);
            return Results.Ok(updated);
        }, ct);
    }

    private static JsonObject Json(SubscriptionRecord s, CustomerRecord customer, Dictionary<Guid, PlanVersionRecord> versions)
    {
        var plan = versions[s.PlanVersionId];
        var zone = TimeZoneInfo.FindSystemTimeZoneById(customer.TimeZone);
        var current = s.Schedule(zone).Containing(DateTimeOffset.UtcNow);
        return new JsonObject
        {
            ["id"] = s.Id.ToString(), ["customer"] = customer.ExternalId, ["plan"] = plan.Key, ["plan_version"] = plan.Version,
            ["start_date"] = s.StartDate.ToString("yyyy-MM-dd"), ["end_date"] = s.EndDate?.ToString("yyyy-MM-dd"), ["anchor_day"] = s.AnchorDay,
            ["time_zone"] = customer.TimeZone,
            ["current_period"] = current is null ? null : new JsonObject { ["start"] = current.StartDate.ToString("yyyy-MM-dd"), ["end"] = current.EndDate.ToString("yyyy-MM-dd") },
            ["next_plan"] = s.NextPlanVersionId is { } next ? versions[next].Key : null,
            ["next_plan_version"] = s.NextPlanVersionId is { } n ? versions[n].Version : null,
            ["next_plan_from"] = s.NextFrom?.ToString("yyyy-MM-dd"),
            ["created_at"] = s.CreatedAt.ToString("O"),
        };
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,99}$")]
    private static partial Regex KeyPattern();
}
