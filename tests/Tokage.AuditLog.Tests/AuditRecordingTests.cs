using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tokage.AuditLog.Tests;

/// <summary>Every kind of money-relevant change, made through the services' own APIs, becomes exactly one record with its actor and diff.</summary>
[Collection(AuditCollection.Name)]
public sealed class AuditRecordingTests(AuditFixture fixture)
{
    private ControlPlaneStack Stack => fixture.Stack;

    [Fact]
    public async Task EachKindOfChangeIsRecordedOnceWithItsActorAndDiff()
    {
        var expected = new List<(string Kind, string Actor)>();
        var secrets = new List<string> { ControlPlaneStack.MemberPassword, "sso-client-secret-0123" };

        // The operator creates the tenant (with its first key) and changes its plan.
        var created = await Stack.PostAsync("/v1/tenants", new { name = "audit-kinds" });
        var tenant = (string)created["tenant_id"]!;
        secrets.Add((string)created["api_key"]!);
        expected.AddRange([("tenant.created", "operator"), ("key.created", "operator")]);
        using (var patched = await Stack.Admin.PatchAsJsonAsync($"/v1/tenants/{tenant}", new { plan = "pro" }))
        {
            await ControlPlaneStack.ReadAsync(patched, HttpStatusCode.OK);
        }

        expected.Add(("tenant.updated", "operator"));

        // The first owner is invited by the operator and joins through the link.
        var ownerSession = await Stack.SignedInMemberAsync(tenant, "owner@audit.test", "owner");
        expected.AddRange([("member.invited", "operator"), ("member.joined", "member")]);
        using var owner = Stack.ControlPlaneAs(ownerSession);
        await ControlPlaneStack.ReadAsync(await owner.PatchAsJsonAsync($"/v1/tenants/{tenant}/settings", new { time_zone = "Europe/Berlin" }), HttpStatusCode.OK);
        expected.Add(("tenant.settings_changed", "member"));

        // Keys: the owner makes an admin key; that key rotates and revokes another.
        var adminKey = await ControlPlaneStack.ReadAsync(await owner.PostAsJsonAsync($"/v1/tenants/{tenant}/keys",
            new { name = "ops", scopes = new[] { "ingest", "read", "admin", "billing" } }), HttpStatusCode.Created);
        var other = await ControlPlaneStack.ReadAsync(await owner.PostAsJsonAsync($"/v1/tenants/{tenant}/keys", new { name = "app" }), HttpStatusCode.Created);
        expected.AddRange([("key.created", "member"), ("key.created", "member")]);
        secrets.AddRange([(string)adminKey["api_key"]!, (string)other["api_key"]!]);
        var adminKeyId = (string)adminKey["id"]!;
        using var byKey = Stack.ControlPlaneAs((string)adminKey["api_key"]!);
        var rotated = await ControlPlaneStack.ReadAsync(await byKey.PostAsJsonAsync($"/v1/tenants/{tenant}/keys/{other["id"]}/rotate", new { grace_seconds = 0 }), HttpStatusCode.Created);
        secrets.Add((string)rotated["key"]!["api_key"]!);
        expected.AddRange([("key.rotated", "key"), ("key.created", "key")]);
        await ControlPlaneStack.ReadAsync(await byKey.PostAsync($"/v1/tenants/{tenant}/keys/{rotated["key"]!["id"]}/revoke", null), HttpStatusCode.OK);
        expected.Add(("key.revoked", "key"));

        // Members: invited, promoted and removed by the owner.
        var invited = await ControlPlaneStack.ReadAsync(await owner.PostAsJsonAsync($"/v1/tenants/{tenant}/members", new { email = "viewer@audit.test", role = "viewer" }), HttpStatusCode.Created);
        var memberId = (string)invited["member"]!["id"]!;
        await ControlPlaneStack.ReadAsync(await owner.PatchAsJsonAsync($"/v1/tenants/{tenant}/members/{memberId}", new { role = "admin" }), HttpStatusCode.OK);
        using (var removed = await owner.DeleteAsync($"/v1/tenants/{tenant}/members/{memberId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        expected.AddRange([("member.invited", "member"), ("member.role_changed", "member"), ("member.removed", "member")]);

        // A budget, made, changed and deleted with the admin key.
        var budget = await ControlPlaneStack.ReadAsync(await byKey.PostAsJsonAsync($"/v1/tenants/{tenant}/budgets",
            new { name = "monthly", period = "monthly", amount_usd = 100m, thresholds = new[] { 80, 100 } }), HttpStatusCode.Created);
        secrets.Add((string)budget["signing_secret"]!);
        await ControlPlaneStack.ReadAsync(await byKey.PatchAsJsonAsync($"/v1/tenants/{tenant}/budgets/{budget["id"]}", new { amount_usd = 250m }), HttpStatusCode.OK);
        using (var deleted = await byKey.DeleteAsync($"/v1/tenants/{tenant}/budgets/{budget["id"]}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        expected.AddRange([("budget.created", "key"), ("budget.updated", "key"), ("budget.deleted", "key")]);

        // Single sign-on, configured and removed by the owner (its client secret is never recorded).
        await ControlPlaneStack.ReadAsync(await owner.PutAsJsonAsync($"/v1/tenants/{tenant}/sso",
            new { authority = "http://127.0.0.1:9/issuer", client_id = "tokage-console", client_secret = "sso-client-secret-0123" }), HttpStatusCode.OK);
        using (var removed = await owner.DeleteAsync($"/v1/tenants/{tenant}/sso"))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        expected.AddRange([("sso.configured", "member"), ("sso.removed", "member")]);

        // A negotiated price (the tenant's key) and its correction (the operator).
        using var registry = new HttpClient { BaseAddress = fixture.PriceRegistry.HttpUri };
        registry.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)adminKey["api_key"]!);
        var price = await ControlPlaneStack.ReadAsync(await registry.PostAsJsonAsync("/v1/prices", new
        {
            provider = "openai", model = "gpt-4o", effective_from = DateTimeOffset.UtcNow.AddDays(1), prices = new { input_cost_per_token = "0.000002" },
        }), HttpStatusCode.Created);
        using var registryOperator = new HttpClient { BaseAddress = fixture.PriceRegistry.HttpUri };
        registryOperator.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ControlPlaneStack.AdminToken);
        await ControlPlaneStack.ReadAsync(await registryOperator.PostAsJsonAsync($"/v1/prices/{price["version_id"]}/corrections",
            new { prices = new { input_cost_per_token = "0.0000019" } }), HttpStatusCode.Accepted);
        expected.AddRange([("price.added", "key"), ("price.corrected", "operator")]);

        // Billing with the admin key: settings, a customer, a plan, a credit grant, a subscription that began two months
        // ago (so the pipeline issues its ended periods), one invoice paid and one voided, then the subscription ended.
        using var billing = new HttpClient { BaseAddress = fixture.Billing.HttpUri };
        billing.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)adminKey["api_key"]!);
        await ControlPlaneStack.ReadAsync(await billing.PatchAsJsonAsync("/v1/billing/settings", new { grace_hours = 0 }), HttpStatusCode.OK);
        await ControlPlaneStack.ReadAsync(await billing.PostAsJsonAsync("/v1/customers", new { external_id = "acme", name = "Acme" }), HttpStatusCode.Created);
        await ControlPlaneStack.ReadAsync(await billing.PatchAsJsonAsync("/v1/customers/acme", new { name = "Acme Corp" }), HttpStatusCode.OK);
        await ControlPlaneStack.ReadAsync(await billing.PostAsJsonAsync("/v1/plans", new { key = "pro", name = "Pro", base_fee_usd = "10", charges = Array.Empty<object>() }), HttpStatusCode.Created);
        await ControlPlaneStack.ReadAsync(await billing.PostAsJsonAsync("/v1/credit-grants", new { customer = "acme", amount_usd = "5.00" }), HttpStatusCode.Created);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var start = new DateOnly(today.Year, today.Month, 1).AddMonths(-2);
        var subscription = await ControlPlaneStack.ReadAsync(await billing.PostAsJsonAsync("/v1/subscriptions",
            new { customer = "acme", plan = "pro", start_date = start.ToString("yyyy-MM-dd"), anchor_day = 1 }), HttpStatusCode.Created);
        expected.AddRange([("billing.settings_changed", "key"), ("customer.created", "key"), ("customer.updated", "key"), ("plan.created", "key"),
            ("credit_grant.created", "key"), ("subscription.created", "key")]);

        JsonArray issued = [];
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            issued = (await ControlPlaneStack.ReadAsync(await billing.GetAsync("/v1/invoices?status=issued"), HttpStatusCode.OK))["invoices"]!.AsArray();
            return issued.Count == 2;
        }, TimeSpan.FromSeconds(60), "the two ended periods issued");
        expected.AddRange([("invoice.issued", "service"), ("invoice.issued", "service")]);
        await ControlPlaneStack.ReadAsync(await billing.PostAsync($"/v1/invoices/{issued[0]!["id"]}/mark-paid", null), HttpStatusCode.OK);
        await ControlPlaneStack.ReadAsync(await billing.PostAsync($"/v1/invoices/{issued[1]!["id"]}/void", null), HttpStatusCode.OK);
        await ControlPlaneStack.ReadAsync(await billing.PatchAsJsonAsync($"/v1/subscriptions/{subscription["id"]}",
            new { end_date = new DateOnly(today.Year, today.Month, 1).AddMonths(2).ToString("yyyy-MM-dd") }), HttpStatusCode.OK);
        expected.AddRange([("invoice.paid", "key"), ("invoice.voided", "key"), ("subscription.changed", "key")]);

        var records = await fixture.RecordsAsync(tenant);
        Assert.Equal(
            expected.Select(e => $"{e.Kind} by {e.Actor}").Order(StringComparer.Ordinal),
            records.Select(r => $"{r["kind"]} by {r["actor_type"]}").Order(StringComparer.Ordinal));
        Assert.All(records, r => Assert.Equal(tenant, (string)r["tenant_id"]!));
        Assert.Equal(Enumerable.Range(1, records.Count).Select(i => (long)i), records.Select(r => (long)r["seq"]!));

        // Who: the member's id, the key's id, the service's name; from where: the caller's address.
        var ownerId = (string)records.Single(r => (string)r["kind"]! == "member.joined")["actor_id"]!;
        Assert.All(records.Where(r => (string)r["actor_type"]! == "member"), r => Assert.Equal(ownerId, (string)r["actor_id"]!));
        Assert.All(records.Where(r => (string)r["actor_type"]! == "key"), r => Assert.Equal(adminKeyId, (string)r["actor_id"]!));
        Assert.All(records.Where(r => (string)r["actor_type"]! == "service"), r => Assert.Equal("billing-pipeline", (string)r["actor_id"]!));
        Assert.All(records.Where(r => (string)r["actor_type"]! != "service"), r => Assert.Equal("127.0.0.1", (string?)r["actor_address"]));

        // What: before and after.
        var updated = records.Single(r => (string)r["kind"]! == "tenant.updated");
        Assert.Equal(("standard", "pro"), ((string)updated["before"]!["plan"]!, (string)updated["after"]!["plan"]!));
        var revoked = records.Single(r => (string)r["kind"]! == "key.revoked");
        Assert.Equal(("active", "revoked"), ((string)revoked["before"]!["status"]!, (string)revoked["after"]!["status"]!));
        var budgetUpdated = records.Single(r => (string)r["kind"]! == "budget.updated");
        Assert.Equal(("100", "250"), ((string)budgetUpdated["before"]!["amount_usd"]!, (string)budgetUpdated["after"]!["amount_usd"]!));
        var corrected = records.Single(r => (string)r["kind"]! == "price.corrected");
        Assert.Equal(("0.000002", "0.0000019"),
            ((string)corrected["before"]!["prices"]!["input_cost_per_token"]!, (string)corrected["after"]!["prices"]!["input_cost_per_token"]!));
        Assert.Equal(("issued", "paid"), ((string)records.Single(r => (string)r["kind"]! == "invoice.paid")["before"]!["status"]!,
            (string)records.Single(r => (string)r["kind"]! == "invoice.paid")["after"]!["status"]!));
        var sso = records.Single(r => (string)r["kind"]! == "sso.configured");
        Assert.True((bool)sso["after"]!["has_client_secret"]!);
        Assert.Null(records.Single(r => (string)r["kind"]! == "member.removed")["after"]);

        // Never a secret: no key, password, signing secret or client secret appears in any record.
        var all = string.Join('\n', records.Select(r => r.ToJsonString()));
        Assert.All(secrets, secret => Assert.DoesNotContain(secret, all, StringComparison.Ordinal));

        // The chain over all of it holds.
        var verified = await AuditFixture.GetAsync(fixture.Operator, $"/v1/audit/verify?tenant={tenant}");
        Assert.True((bool)verified["valid"]!, verified.ToJsonString());
        Assert.Equal(records.Count, (int)verified["records"]!);
    }

    [Fact]
    public async Task ATenantsAdminsReadOnlyTheirOwnRecordsAndOthersAreRefused()
    {
        var a = await Stack.CreateTenantAsync("audit-iso-a");
        var b = await Stack.CreateTenantAsync("audit-iso-b");
        var (tenantA, tenantB) = ((string)a["tenant_id"]!, (string)b["tenant_id"]!);
        var adminA = await Stack.PostAsync($"/v1/tenants/{tenantA}/keys", new { name = "audit", scopes = new[] { "read", "admin" } });
        var readA = await Stack.PostAsync($"/v1/tenants/{tenantA}/keys", new { name = "reader", scopes = new[] { "read" } });
        var viewer = await Stack.SignedInMemberAsync(tenantA, "viewer@iso.test", "viewer");
        var ownerB = await Stack.SignedInMemberAsync(tenantB, "owner@iso.test", "owner");
        await fixture.DrainedAsync();

        using var asA = Client((string)adminA["api_key"]!);
        var page = await AuditFixture.GetAsync(asA, "/v1/audit?limit=1000");
        var own = page["records"]!.AsArray();
        Assert.NotEmpty(own);
        Assert.All(own, r => Assert.Equal(tenantA, (string)r!["tenant_id"]!));
        Assert.Equal((await fixture.RecordsAsync(tenantA)).Count, own.Count);

        // Naming another tenant is a 404, as if it did not exist; so is B's owner asking for A.
        using (var other = await asA.GetAsync($"/v1/audit?tenant={tenantB}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        }

        using (var asB = Client(ownerB))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await asB.GetAsync($"/v1/audit?tenant={tenantA}")).StatusCode);
            var bRecords = (await AuditFixture.GetAsync(asB, "/v1/audit?limit=1000"))["records"]!.AsArray();
            Assert.All(bRecords, r => Assert.Equal(tenantB, (string)r!["tenant_id"]!));
            var verified = await AuditFixture.GetAsync(asB, "/v1/audit/verify");
            Assert.Equal(bRecords.Count, (int)verified["records"]!);
        }

        // Below admin: a read key, a viewer's session; no credentials.
        using (var reader = Client((string)readA["api_key"]!))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await reader.GetAsync("/v1/audit")).StatusCode);
        }

        using (var asViewer = Client(viewer))
        {
            var refused = await ControlPlaneStack.ReadAsync(await asViewer.GetAsync("/v1/audit"), HttpStatusCode.Forbidden);
            Assert.Equal("admin", (string)refused["missing_role"]!);
        }

        using (var anonymous = new HttpClient { BaseAddress = fixture.AuditLog.HttpUri })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/audit")).StatusCode);
        }

        // Filters and pages: by kind and actor, two records a page.
        var keys = await AuditFixture.GetAsync(asA, "/v1/audit?kind=key");
        Assert.Equal(3, keys["records"]!.AsArray().Count);
        var byOperator = (await AuditFixture.GetAsync(asA, "/v1/audit?actor=operator"))["records"]!.AsArray();
        Assert.All(byOperator, r => Assert.Equal("operator", (string)r!["actor_type"]!));
        var first = await AuditFixture.GetAsync(asA, "/v1/audit?limit=2");
        var second = await AuditFixture.GetAsync(asA, $"/v1/audit?limit=2&cursor={first["next_cursor"]}");
        Assert.Equal(own.Skip(2).Take(2).Select(r => (long)r!["id"]!), second["records"]!.AsArray().Select(r => (long)r!["id"]!));
        Assert.Equal(HttpStatusCode.BadRequest, (await asA.GetAsync("/v1/audit?from=yesterday")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await asA.GetAsync("/v1/audit?limit=0")).StatusCode);
    }

    private HttpClient Client(string token)
    {
        var client = new HttpClient { BaseAddress = fixture.AuditLog.HttpUri };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }
}
