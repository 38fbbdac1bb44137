using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Npgsql;

namespace Tokage.ControlPlane.Tests;

[Collection(ControlPlaneCollection.Name)]
public sealed class BudgetsApiTests(ControlPlaneStack stack)
{
    [Fact]
    public async Task CreateListGetDelete()
    {
        var tenant = (string)(await stack.CreateTenantAsync("budgets-crud"))["tenant_id"]!;
        var created = await stack.PostAsync($"/v1/tenants/{tenant}/budgets", new
        {
            name = "checkout-monthly",
            scope = new { kind = "project", value = "checkout" },
            period = "monthly",
            time_zone = "Europe/Berlin",
            amount_usd = "1250.50",
            channels = new object[] { new { kind = "webhook", url = "https://example.com/hook" }, new { kind = "slack", url = "https://hooks.slack.com/services/T/B/X" } },
            hard_limit = true,
        });
        Assert.StartsWith("whsec_", (string)created["signing_secret"]!);
        Assert.Equal("1250.5", (string)created["amount_usd"]!);
        Assert.Equal([50, 80, 100], created["thresholds"]!.AsArray().Select(t => (int)t!));
        Assert.Equal("project", (string)created["scope"]!["kind"]!);
        Assert.Equal("Europe/Berlin", (string)created["time_zone"]!);

        var tenantWide = await stack.PostAsync($"/v1/tenants/{tenant}/budgets", new { name = "all", period = "daily", amount_usd = 10, thresholds = new[] { 100, 50 } });
        Assert.Equal("tenant", (string)tenantWide["scope"]!["kind"]!);
        Assert.Equal("UTC", (string)tenantWide["time_zone"]!);
        Assert.Equal([50, 100], tenantWide["thresholds"]!.AsArray().Select(t => (int)t!));

        var list = await stack.GetAsync($"/v1/tenants/{tenant}/budgets");
        Assert.Equal(["all", "checkout-monthly"], list["budgets"]!.AsArray().Select(b => (string)b!["name"]!));
        Assert.All(list["budgets"]!.AsArray(), b => Assert.Null(b!.AsObject()["signing_secret"]));

        var one = await stack.GetAsync($"/v1/tenants/{tenant}/budgets/{(string)created["id"]!}");
        Assert.Equal(2, one["channels"]!.AsArray().Count);

        using (var duplicate = await stack.Admin.PostAsJsonAsync($"/v1/tenants/{tenant}/budgets", new { name = "all", period = "daily", amount_usd = 1 }))
        {
            Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        }

        using (var deleted = await stack.Admin.DeleteAsync($"/v1/tenants/{tenant}/budgets/all"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        using (var again = await stack.Admin.DeleteAsync($"/v1/tenants/{tenant}/budgets/all"))
        {
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        }
    }

    [Fact]
    public async Task APatchChangesWhatABudgetAlertsOnAndKeepsTheRest()
    {
        var tenant = (string)(await stack.CreateTenantAsync("budgets-patch-" + Guid.NewGuid().ToString("N")[..8]))["tenant_id"]!;
        var created = await stack.PostAsync($"/v1/tenants/{tenant}/budgets", new
        {
            name = "ml-team", scope = new { kind = "team", value = "ml" }, period = "monthly", time_zone = "Europe/Berlin", amount_usd = "100",
            channels = new[] { new { kind = "webhook", url = "https://example.com/hook" } },
        });
        var id = (string)created["id"]!;
        await stack.PostAsync($"/v1/tenants/{tenant}/budgets", new { name = "other", period = "daily", amount_usd = 1 });

        using (var patched = await PatchAsync(tenant, "ml-team", """{"amount_usd":"250.75","thresholds":[90,25],"channels":[{"kind":"slack","url":"https://hooks.slack.com/services/T/B/Y"}],"hard_limit":true}"""))
        {
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        var one = await stack.GetAsync($"/v1/tenants/{tenant}/budgets/{id}");
        Assert.Equal(("ml-team", "250.75", true), ((string)one["name"]!, (string)one["amount_usd"]!, (bool)one["hard_limit"]!));
        Assert.Equal([25, 90], one["thresholds"]!.AsArray().Select(t => (int)t!));
        Assert.Equal("https://hooks.slack.com/services/T/B/Y", (string)one["channels"]![0]!["url"]!);
        Assert.Equal(("team", "ml", "monthly", "Europe/Berlin"), ((string)one["scope"]!["kind"]!, (string)one["scope"]!["value"]!, (string)one["period"]!, (string)one["time_zone"]!));

        // Renamed, and the same period given again (no change) is fine.
        using (var renamed = await PatchAsync(tenant, id, """{"name":"ml-monthly","period":"monthly"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        }

        Assert.Equal("ml-monthly", (string)(await stack.GetAsync($"/v1/tenants/{tenant}/budgets/{id}"))["name"]!);
        using (var taken = await PatchAsync(tenant, id, """{"name":"other"}"""))
        {
            Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
        }

        using (var missing = await PatchAsync(tenant, "no-such-budget", """{"amount_usd":1}"""))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }
    }

    [Theory]
    [InlineData("""{"period":"daily"}""", "period")]
    [InlineData("""{"time_zone":"America/New_York"}""", "time_zone")]
    [InlineData("""{"scope":{"kind":"team","value":"infra"}}""", "scope")]
    [InlineData("""{"amount_usd":0}""", "amount_usd")]
    [InlineData("""{"thresholds":[2000]}""", "thresholds")]
    [InlineData("""{"channels":[{"url":"http://169.254.169.254/"}]}""", "channels")]
    [InlineData("""{"name":""}""", "name")]
    public async Task ABadPatchIsA400NamingTheFieldAndChangesNothing(string body, string field)
    {
        var tenant = (string)(await stack.CreateTenantAsync("budgets-badpatch-" + Guid.NewGuid().ToString("N")[..8]))["tenant_id"]!;
        await stack.PostAsync($"/v1/tenants/{tenant}/budgets", new { name = "cap", scope = new { kind = "team", value = "ml" }, period = "monthly", amount_usd = 10 });

        using var response = await PatchAsync(tenant, "cap", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {text}");
        Assert.NotNull(JsonNode.Parse(text)!["errors"]![field]);
        var stored = await stack.GetAsync($"/v1/tenants/{tenant}/budgets/cap");
        Assert.Equal(("10", "monthly", "ml"), ((string)stored["amount_usd"]!, (string)stored["period"]!, (string)stored["scope"]!["value"]!));
    }

    private Task<HttpResponseMessage> PatchAsync(string tenant, string budget, string json) =>
        stack.Admin.PatchAsync($"/v1/tenants/{tenant}/budgets/{budget}", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    public static TheoryData<string, string> Invalid => new()
    {
        { """{"period":"monthly","amount_usd":10}""", "name" },
        { """{"name":"b","period":"weekly","amount_usd":10}""", "period" },
        { """{"name":"b","period":"daily"}""", "amount_usd" },
        { """{"name":"b","period":"daily","amount_usd":0}""", "amount_usd" },
        { """{"name":"b","period":"daily","amount_usd":-5}""", "amount_usd" },
        { """{"name":"b","period":"daily","amount_usd":1.0000001}""", "amount_usd" },
        { """{"name":"b","period":"daily","amount_usd":10,"time_zone":"Mars/Olympus"}""", "time_zone" },
        { """{"name":"b","period":"daily","amount_usd":10,"time_zone":"W. Europe Standard Time"}""", "time_zone" },
        { """{"name":"b","period":"daily","amount_usd":10,"scope":{"kind":"region","value":"x"}}""", "scope.kind" },
        { """{"name":"b","period":"daily","amount_usd":10,"scope":{"kind":"1","value":"x"}}""", "scope.kind" },
        { """{"name":"b","period":"daily","amount_usd":10,"scope":{"kind":"project,user","value":"x"}}""", "scope.kind" },
        { """{"name":"b","period":"daily","amount_usd":10,"scope":{"kind":"user"}}""", "scope.value" },
        { """{"name":"b","period":"daily","amount_usd":10,"scope":{"kind":"tenant","value":"x"}}""", "scope.value" },
        { """{"name":"b","period":"daily","amount_usd":10,"thresholds":[]}""", "thresholds" },
        { """{"name":"b","period":"daily","amount_usd":10,"thresholds":[0]}""", "thresholds" },
        { """{"name":"b","period":"daily","amount_usd":10,"channels":[{"url":"ftp://x/y"}]}""", "channels" },
        { """{"name":"b","period":"daily","amount_usd":10,"channels":[{"kind":"email","url":"https://x/y"}]}""", "channels" },
        { """{"name":"b","period":"daily","amount_usd":10,"channels":[{"url":"http://169.254.169.254/latest/meta-data/"}]}""", "channels" },
        { """{"name":"b","period":"daily","amount_usd":10,"channels":[{"url":"http://localhost:8070/v1/tenants"}]}""", "channels" },
        { """{"name":"b","period":"daily","amount_usd":10,"channels":[{"kind":"slack","url":"https://10.0.0.5/hook"}]}""", "channels" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public async Task BadRequestsAre400sNamingTheField(string body, string field)
    {
        var tenant = (string)(await stack.CreateTenantAsync("budgets-invalid-" + Guid.NewGuid().ToString("N")[..8]))["tenant_id"]!;
        using var response = await stack.Admin.PostAsync($"/v1/tenants/{tenant}/budgets", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {text}");
        Assert.NotNull(JsonNode.Parse(text)!["errors"]![field]);
    }

    [Fact]
    public async Task AWebhookIntoOurOwnNetworkIsRefusedWithTheReason()
    {
        var tenant = (string)(await stack.CreateTenantAsync("budgets-ssrf-" + Guid.NewGuid().ToString("N")[..8]))["tenant_id"]!;
        using var response = await stack.Admin.PostAsJsonAsync($"/v1/tenants/{tenant}/budgets", new
        {
            name = "metadata", period = "daily", amount_usd = 10, channels = new[] { new { kind = "webhook", url = "http://169.254.169.254/latest/meta-data/" } },
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("must reach a public address: 169.254.169.254 is not a public address", await response.Content.ReadAsStringAsync());
        Assert.Empty((await stack.GetAsync($"/v1/tenants/{tenant}/budgets"))["budgets"]!.AsArray());
    }

    [Fact]
    public async Task OneTenantsBudgetsAreInvisibleToAnother()
    {
        var acme = (string)(await stack.CreateTenantAsync("budgets-rls-acme"))["tenant_id"]!;
        var globex = (string)(await stack.CreateTenantAsync("budgets-rls-globex"))["tenant_id"]!;
        var budget = await stack.PostAsync($"/v1/tenants/{acme}/budgets", new { name = "secret-plan", period = "monthly", amount_usd = 99 });

        Assert.Empty((await stack.GetAsync($"/v1/tenants/{globex}/budgets"))["budgets"]!.AsArray());
        using (var other = await stack.Admin.GetAsync($"/v1/tenants/{globex}/budgets/{(string)budget["id"]!}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        }

        using (var delete = await stack.Admin.DeleteAsync($"/v1/tenants/{globex}/budgets/{(string)budget["id"]!}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);
        }

        await using var connection = new NpgsqlConnection(stack.AppRoleConnectionString);
        await connection.OpenAsync();
        foreach (var table in (string[])["budgets", "budget_alerts", "alert_deliveries", "alert_delivery_attempts"])
        {
            await using var unscoped = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
            Assert.Equal(0L, (long)(await unscoped.ExecuteScalarAsync())!);
        }

        await using var transaction = await connection.BeginTransactionAsync();
        await using (var scope = new NpgsqlCommand($"SELECT set_config('tokage.tenant_id', '{globex}', true)", connection, transaction))
        {
            await scope.ExecuteScalarAsync();
        }

        await using var visible = new NpgsqlCommand("SELECT count(*) FROM budgets", connection, transaction);
        Assert.Equal(0L, (long)(await visible.ExecuteScalarAsync())!);
        Assert.Single((await stack.GetAsync($"/v1/tenants/{acme}/budgets"))["budgets"]!.AsArray());
    }
}
