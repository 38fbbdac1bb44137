using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.BillingPipeline.Billing;
using Tokage.Integrations;
using static Tokage.BillingPipeline.Apis.BillingErrors;

namespace Tokage.BillingPipeline.Apis;

/// <summary>
/// The tenant's own customers (<c>/v1/customers</c>) and their prepaid credit (<c>/v1/credit-grants</c>). A customer is
/// named by events with its <c>external_id</c> or any alias; each is unique in the tenant.
/// </summary>
public static class CustomersApi
{
    public const int MaxIdLength = 128;

    /// <summary>The largest credit grant: far above any real prepayment, well inside the column's precision.</summary>
    public const decimal MaxGrantUsd = 1_000_000_000_000m;

    public static void MapCustomersApi(this WebApplication app)
    {
        var customers = app.MapGroup("/v1/customers").WithTags("Customers");
        customers.MapPost("/", (HttpContext context, NpgsqlDataSource db, TimeProvider time, JsonElement body) =>
            BillingCaller.AsTenantAsync(context, tenant => CreateAsync(db, tenant, new RequestJson(body), time.GetUtcNow(), RequestActor.Of(context), context.RequestAborted)));
        customers.MapGet("/", (HttpContext context, NpgsqlDataSource db) =>
            BillingCaller.AsTenantAsync(context, async tenant => Results.Ok(new JsonObject
            {
                ["customers"] = new JsonArray([.. (await db.InTenantAsync(tenant, (c, t) => BillingRecords.CustomersAsync(c, t, context.RequestAborted), context.RequestAborted)).Select(c => (JsonNode)c.ToJson())]),
            })));
        customers.MapGet("/{id}", (HttpContext context, NpgsqlDataSource db, string id) =>
            BillingCaller.AsTenantAsync(context, async tenant =>
                await db.InTenantAsync(tenant, (c, t) => BillingRecords.CustomerAsync(c, t, id, context.RequestAborted), context.RequestAborted) is { } found
                    ? Results.Ok(found.ToJson()) : NotFound($"Customer '{id}'")));
        customers.MapPatch("/{id}", (HttpContext context, NpgsqlDataSource db, TimeProvider time, string id, JsonElement body) =>
            BillingCaller.AsTenantAsync(context, tenant => UpdateAsync(db, tenant, id, new RequestJson(body), time.GetUtcNow(), RequestActor.Of(context), context.RequestAborted)));

        var grants = app.MapGroup("/v1/credit-grants").WithTags("Credit grants");
        grants.MapPost("/", (HttpContext context, NpgsqlDataSource db, TimeProvider time, JsonElement body) =>
            BillingCaller.AsTenantAsync(context, tenant => GrantAsync(db, tenant, new RequestJson(body), time.GetUtcNow(), RequestActor.Of(context), context.RequestAborted)));
        grants.MapGet("/", (HttpContext context, NpgsqlDataSource db, string? customer) =>
            BillingCaller.AsTenantAsync(context, tenant => GrantsAsync(db, tenant, customer, context.RequestAborted)));
    }

    private static async Task<IResult> CreateAsync(NpgsqlDataSource db, Guid tenant, RequestJson json, DateTimeOffset now, AuditActor actor, CancellationToken ct)
    {
        if (!json.IsObject)
        {
            return Invalid("", "The body must be a JSON object.");
        }

        var externalId = json.String("external_id", MaxIdLength, required: true);
        var fields = ReadFields(json);
        var aliases = json.Strings("aliases", MaxIdLength, 100) ?? [];
        if (json.Errors.Count > 0)
        {
            return Invalid(json.Errors);
        }

        try
        {
            var created = await db.InTenantAsync(tenant, async (c, t) =>
            {
                var id = Guid.CreateVersion7();
                await BillingRecords.ExecuteAsync(c, t, """
                    INSERT INTO customers (id, tenant_id, external_id, name, email, time_zone, stripe_customer_id, created_at, updated_at)
                    VALUES (@id, @tenant, @external_id, @name, @email, @zone, @stripe, @now, @now)
                    """, ct, ("id", id), ("tenant", tenant), ("external_id", externalId!), ("name", fields.Name ?? ""), ("email", fields.Email ?? ""),
                    ("zone", fields.TimeZone ?? "UTC"), ("stripe", fields.Stripe ?? ""), ("now", now));
                await AddIdsAsync(c, t, tenant, id, [(externalId!, false), .. aliases.Select(a => (a, true))], ct);
                var customer = await BillingRecords.CustomerAsync(c, t, externalId!, ct);
                await AuditOutbox.AppendAsync(c, t, AuditChange.Of(tenant, AuditKinds.CustomerCreated, $"customer:{id}", null, customer!.ToJson()), actor, ct);
                return customer;
            }, ct);
            return Results.Created($"/v1/customers/{Uri.EscapeDataString(externalId!)}", created!.ToJson());
        }
        catch (PostgresException ex) when (IsUniqueViolation(ex))
        {
            return Conflict($"'{externalId}' or one of the aliases already names a customer of this tenant.");
        }
    }

    private static async Task<IResult> UpdateAsync(NpgsqlDataSource db, Guid tenant, string id, RequestJson json, DateTimeOffset now, AuditActor actor, CancellationToken ct)
    {
        if (!json.IsObject)
        {
            return Invalid("", "The body must be a JSON object.");
        }

        if (json.Has("external_id"))
        {
            json.Errors["external_id"] = ["'external_id' cannot change (events name the customer by it); add an alias instead."];
        }

        var fields = ReadFields(json);
        var aliases = json.Strings("aliases", MaxIdLength, 100);
        if (json.Errors.Count > 0)
        {
            return Invalid(json.Errors);
        }

        try
        {
            return await db.InTenantAsync(tenant, async (c, t) =>
            {
                if (await BillingRecords.CustomerAsync(c, t, id, ct) is not { } found)
                {
                    return NotFound($"Customer '{id}'");
                }

                // Periods are counted in the customer's zone: moving it would move the bounds of periods already invoiced.
                if (fields.TimeZone is { } zone && zone != found.TimeZone
                    && (await BillingRecords.SubscriptionsAsync(c, t, ct, found.Id)).Count > 0)
                {
                    return Conflict($"Customer '{found.ExternalId}' has subscriptions billed in {found.TimeZone}; its time zone cannot change under them.");
                }

                await BillingRecords.ExecuteAsync(c, t, """
                    UPDATE customers SET name = @name, email = @email, time_zone = @zone, stripe_customer_id = @stripe, updated_at = @now WHERE id = @id
                    """, ct, ("id", found.Id), ("name", fields.Name ?? found.Name), ("email", fields.Email ?? found.Email),
                    ("zone", fields.TimeZone ?? found.TimeZone), ("stripe", fields.Stripe ?? found.StripeCustomerId), ("now", now));
                if (aliases is not null)
                {
                    await BillingRecords.ExecuteAsync(c, t, "DELETE FROM customer_ids WHERE customer_id = @id AND is_alias", ct, ("id", found.Id));
                    await AddIdsAsync(c, t, tenant, found.Id, [.. aliases.Where(a => a != found.ExternalId).Select(a => (a, true))], ct);
                }

                var updated = (await BillingRecords.CustomerAsync(c, t, found.ExternalId, ct))!.ToJson();
                await AuditOutbox.AppendAsync(c, t, AuditChange.Of(tenant, AuditKinds.CustomerUpdated, $"customer:{found.Id}", found.ToJson(), updated), actor, ct);
                return Results.Ok(updated);
            }, ct);
        }
        catch (PostgresException ex) when (IsUniqueViolation(ex))
        {
            return Conflict("One of the aliases already names another customer of this tenant.");
        }
    }

    private static (string? Name, string? Email, string? TimeZone, string? Stripe) ReadFields(RequestJson json)
    {
        var name = json.String("name", 200);
        var email = json.String("email", 320);
        if (email is { Length: > 0 } && (!email.Contains('@', StringComparison.Ordinal) || email.Contains(' ', StringComparison.Ordinal)))
        {
            json.Errors["email"] = ["'email' must be an e-mail address."];
        }

        var zone = json.String("time_zone", 64);
        if (zone is not null && Zone(zone) is null)
        {
            json.Errors["time_zone"] = [$"'{zone}' is not a time zone: use an IANA name such as Europe/Paris or UTC."];
        }

        return (name, email, zone, json.String("stripe_customer_id", 100));
    }

    private static async Task AddIdsAsync(NpgsqlConnection c, NpgsqlTransaction t, Guid tenant, Guid customer, IEnumerable<(string Value, bool Alias)> ids, CancellationToken ct)
    {
        foreach (var (value, alias) in ids)
        {
            await BillingRecords.ExecuteAsync(c, t, "INSERT INTO customer_ids (tenant_id, value, customer_id, is_alias) VALUES (@tenant, @value, @customer, @alias)", ct,
                ("tenant", tenant), ("value", value), ("customer", customer), ("alias", alias));
        }
    }

    private static async Task<IResult> GrantAsync(NpgsqlDataSource db, Guid tenant, RequestJson json, DateTimeOffset now, AuditActor actor, CancellationToken ct)
    {
        if (!json.IsObject)
        {
            return Invalid("", "The body must be a JSON object.");
        }

        var customer = json.String("customer", MaxIdLength, required: true);
        var amount = json.Decimal("amount_usd");
        if (amount is not (> 0 and <= MaxGrantUsd) || decimal.Round(amount.Value, 2) != amount)
        {
            json.Errors.TryAdd("amount_usd", [$"'amount_usd' is required: a positive amount in cents up to {MaxGrantUsd:N0}, e.g. \"100.00\"."]);
        }

        var effective = json.Instant("effective_at") ?? now;
        var expires = json.Instant("expires_at");
        if (expires is not null && expires <= effective)
        {
            json.Errors["expires_at"] = ["'expires_at' must be after 'effective_at'."];
        }

        var priority = json.Integer("priority", 0, 1000) ?? 0;
        var description = json.String("description", 200) ?? "";
        if (json.Errors.Count > 0)
        {
            return Invalid(json.Errors);
        }

        return await db.InTenantAsync(tenant, async (c, t) =>
        {
            if (await BillingRecords.CustomerAsync(c, t, customer!, ct) is not { } found)
            {
                return NotFound($"Customer '{customer}'");
            }

            var id = Guid.CreateVersion7();
            await BillingRecords.ExecuteAsync(c, t, """
                INSERT INTO credit_grants (id, tenant_id, customer_id, amount_usd, effective_at, expires_at, priority, description, created_at)
                VALUES (@id, @tenant, @customer, @amount, @effective, @expires, @priority, @description, @now)
                """, ct, ("id", id), ("tenant", tenant), ("customer", found.Id), ("amount", amount!.Value), ("effective", effective),
                ("expires", (object?)expires ?? DBNull.Value), ("priority", priority), ("description", description), ("now", now));
            var grant = new JsonObject
            {
                ["id"] = id.ToString(), ["customer"] = found.ExternalId, ["amount_usd"] = Tokage.Billing.Money.Cents(amount.Value),
                ["remaining_usd"] = Tokage.Billing.Money.Cents(amount.Value), ["effective_at"] = effective.ToString("O"), ["expires_at"] = expires?.ToString("O"),
                ["priority"] = priority, ["description"] = description,
            };
            await AuditOutbox.AppendAsync(c, t, AuditChange.Of(tenant, AuditKinds.CreditGrantCreated, $"credit_grant:{id}", null, grant), actor, ct);
            return Results.Created($"/v1/credit-grants?customer={Uri.EscapeDataString(found.ExternalId)}", grant);
        }, ct);
    }

    private static Task<IResult> GrantsAsync(NpgsqlDataSource db, Guid tenant, string? customer, CancellationToken ct) =>
        db.InTenantAsync(tenant, async (c, t) =>
        {
            var customers = await BillingRecords.CustomersAsync(c, t, ct);
            var wanted = customer is null ? customers : customers.Where(x => x.Ids.Contains(customer)).ToList();
            if (customer is not null && wanted.Count == 0)
            {
                return NotFound($"Customer '{customer}'");
            }

            var balances = await InvoiceEngine.BalancesAsync(c, t, [.. wanted.Select(x => x.Id)], ct);
            var grants = await BillingRecords.ReadAsync(c, t,
                "SELECT id, customer_id, amount_usd, effective_at, expires_at, priority, description FROM credit_grants WHERE customer_id = ANY(@customers) ORDER BY created_at",
                r => new JsonObject
                {
                    ["id"] = r.GetGuid(0).ToString(), ["customer"] = customers.First(x => x.Id == r.GetGuid(1)).ExternalId,
                    ["amount_usd"] = Tokage.Billing.Money.Cents(r.GetDecimal(2)),
                    ["remaining_usd"] = Tokage.Billing.Money.Cents(balances[r.GetGuid(1)].First(b => b.GrantId == r.GetGuid(0)).RemainingUsd),
                    ["effective_at"] = r.GetFieldValue<DateTimeOffset>(3).ToString("O"),
                    ["expires_at"] = r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4).ToString("O"),
                    ["priority"] = r.GetInt32(5), ["description"] = r.GetString(6),
                }, ct, ("customers", wanted.Select(x => x.Id).ToArray()));
            return Results.Ok(new JsonObject { ["credit_grants"] = new JsonArray([.. grants]) });
        }, ct);
}
