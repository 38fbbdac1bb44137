using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Tokage.Testing;

namespace Tokage.Console.Tests;

/// <summary>
/// The console in a real browser (Debian's chromium through Playwright) against the running AppHost: what a member sees
/// equals what the APIs answer, what a member does lands in the APIs, and roles and tenants are kept apart on screen.
/// CI runs the quick form (the six tests of what every tenant does); <c>TOKAGE_BROWSER=full</c> runs all eleven.
/// </summary>
public sealed class ConsoleTests(ConsoleApp console) : IClassFixture<ConsoleApp>
{
    [Fact]
    public async Task TheOverviewShowsTheQueryApisNumbersForThisMonth()
    {
        var (tenant, key) = await console.CreateTenantAsync("console-overview");
        var owner = await console.AddMemberAsync(tenant, "owner@overview.example", "owner");
        await console.IngestAsync(key, Events("overview", 24));

        var page = await console.NewPageAsync();
        await ConsoleApp.SignInAsync(page, "owner@overview.example");
        await page.GetByTestId("spend-this-month").WaitForAsync();
        var shown = await page.GetByTestId("spend-this-month").InnerTextAsync();

        var now = DateTimeOffset.UtcNow;
        using var query = console.As("query-api", owner);
        var answer = await ConsoleApp.ReadAsync(await query.GetAsync(
            $"/v1/usage/breakdown?from={new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero):yyyy-MM-ddTHH:mm:ssZ}&to={now.AddMinutes(1):yyyy-MM-ddTHH:mm:ssZ}"));
        var spend = Decimal(answer["totals"]!["cost_usd"]) + Decimal(answer["totals"]!["adjustments_usd"]);
        Assert.True(spend > 0, "the events were priced");
        Assert.Equal(Dollars(spend), shown);
        Assert.Contains("gpt-4o", await page.GetByTestId("top-model").InnerTextAsync());
        Assert.Contains("last event", await page.GetByTestId("freshness").InnerTextAsync());
        await ConsoleApp.ScreenshotAsync(page, "overview");
    }

    [Fact]
    public async Task AnAdminCreatesABudgetAndSeesIt()
    {
        var (tenant, _) = await console.CreateTenantAsync("console-budget");
        var admin = await console.AddMemberAsync(tenant, "admin@budget.example", "admin");
        var page = await console.NewPageAsync();
        await ConsoleApp.SignInAsync(page, "admin@budget.example");
        await ConsoleApp.GoAsync(page, "/budgets");
        await Input(page, "budget-form-name").FillAsync("ui-monthly");
        await Input(page, "budget-form-amount").FillAsync("123.45");
        await page.GetByTestId("budget-form-create").ClickAsync();
        await page.GetByTestId("budget-name").Filter(new() { HasText = "ui-monthly" }).WaitForAsync();
        Assert.Contains("of $123.45 this month", await page.GetByTestId("budget-spend").InnerTextAsync());

        using var controlPlane = console.As("control-plane", admin);
        var budgets = await ConsoleApp.ReadAsync(await controlPlane.GetAsync($"/v1/tenants/{tenant}/budgets"));
        var created = Assert.Single(budgets["budgets"]!.AsArray());
        Assert.Equal("ui-monthly", (string)created!["name"]!);
        Assert.Equal("123.45", (string)created["amount_usd"]!);

        // Edited in place: the amount and thresholds change, the budget stays the same one.
        await page.GetByTestId("budget-edit").ClickAsync();
        // The form takes the budget's values from the server first; typing before that render would be overwritten.
        await Assertions.Expect(Input(page, "budget-form-amount")).ToHaveValueAsync("123.45");
        await Input(page, "budget-form-amount").FillAsync("200.5");
        await page.GetByTestId("budget-form-create").ClickAsync();
        await Assertions.Expect(page.GetByTestId("budget-spend")).ToContainTextAsync("of $200.50 this month");
        var edited = Assert.Single((await ConsoleApp.ReadAsync(await controlPlane.GetAsync($"/v1/tenants/{tenant}/budgets")))["budgets"]!.AsArray());
        Assert.Equal(((string)created["id"]!, "200.5"), ((string)edited!["id"]!, (string)edited["amount_usd"]!));
        await ConsoleApp.ScreenshotAsync(page, "budgets");
    }

    [Fact]
    public async Task AnAdminReadsWhoChangedWhatInTheAuditLogAndVerifiesIt()
    {
        var (tenant, _) = await console.CreateTenantAsync("console-audit");
        var admin = await console.AddMemberAsync(tenant, "admin@audit.example", "admin");
        using (var controlPlane = console.As("control-plane", admin))
        {
            var budget = await ConsoleApp.ReadAsync(await controlPlane.PostAsJsonAsync($"/v1/tenants/{tenant}/budgets", new { name = "audited", period = "monthly", amount_usd = 40m }));
            await ConsoleApp.ReadAsync(await controlPlane.PatchAsJsonAsync($"/v1/tenants/{tenant}/budgets/{budget["id"]}", new { amount_usd = 55m }));
        }

        // The records are drained from the outbox within a second or so: wait for them through the API first.
        using var audit = console.As("audit-log", admin);
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            var response = await audit.GetAsync("/v1/audit?kind=budget");
            if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
            {
                // Auth could not check the session in time (a loaded machine): the API says to retry, so the test does.
                response.Dispose();
                return false;
            }

            return (await ConsoleApp.ReadAsync(response))["records"]!.AsArray().Count == 2;
        }, TimeSpan.FromSeconds(30), "the budget's records");

        var page = await console.NewPageAsync();
        await ConsoleApp.SignInAsync(page, "admin@audit.example");
        await ConsoleApp.GoAsync(page, "/audit");
        var updated = page.GetByTestId("audit-table").Locator("tr").Filter(new() { HasText = "budget.updated" });
        await Assertions.Expect(updated).ToContainTextAsync("amount_usd: 40 → 55");
        Assert.Contains("member", await updated.InnerTextAsync());
        await Assertions.Expect(page.GetByTestId("audit-table").Locator("tr").Filter(new() { HasText = "tenant.created" })).ToContainTextAsync("operator");

        await page.GetByTestId("audit-verify").ClickAsync();
        await Assertions.Expect(page.GetByTestId("audit-verification")).ToContainTextAsync("every link intact");
        await ConsoleApp.ScreenshotAsync(page, "audit");
    }

    [Fact]
    public async Task AMemberCreatesAKeyThatWorksAndRevokesIt()
    {
        var (tenant, _) = await console.CreateTenantAsync("console-keys");
        await console.AddMemberAsync(tenant, "member@keys.example", "member");
        var page = await console.NewPageAsync();
        await ConsoleApp.SignInAsync(page, "member@keys.example");
        await ConsoleApp.GoAsync(page, "/keys");
        await Input(page, "key-form-name").FillAsync("from-the-console");
        await page.GetByTestId("key-form-create").ClickAsync();
        var secret = (await page.GetByTestId("secret-value").InnerTextAsync()).Trim();
        Assert.StartsWith("tok_live_", secret);

        // The key works at once: it reads this tenant's usage.
        using (var query = console.As("query-api", secret))
        using (var response = await query.GetAsync("/v1/events"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var row = page.GetByTestId("key-row").Filter(new() { HasText = "from-the-console" });
        await ConsoleApp.ScreenshotAsync(page, "keys-created");
        await row.GetByTestId("key-revoke").ClickAsync();
        await Assertions.Expect(row.GetByTestId("key-status")).ToHaveTextAsync("revoked");
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            using var query = console.As("query-api", secret);
            using var response = await query.GetAsync("/v1/events");
            return response.StatusCode == HttpStatusCode.Unauthorized;
        }, TimeSpan.FromSeconds(10), "the revoked key is refused");
        await ConsoleApp.ScreenshotAsync(page, "keys-revoked");
    }

    [FullFormFact]
    public async Task TheBreakdownCsvDownloadedIsTheApisCsv()
    {
        var (tenant, key) = await console.CreateTenantAsync("console-csv");
        var viewer = await console.AddMemberAsync(tenant, "viewer@csv.example", "viewer");
        await console.IngestAsync(key, Events("csv", 12));
        var page = await console.NewPageAsync();
        await ConsoleApp.SignInAsync(page, "viewer@csv.example");
        await ConsoleApp.GoAsync(page, "/explore");
        await page.GetByTestId("breakdown-table").WaitForAsync();
        var link = page.GetByTestId("download-csv");
        var href = await link.GetAttributeAsync("href");
        var download = await page.RunAndWaitForDownloadAsync(() => link.ClickAsync());
        var downloaded = await File.ReadAllTextAsync((await download.PathAsync())!);

        var query = href!["/download/breakdown.csv".Length..];
        using var api = console.As("query-api", viewer);
        var expected = await api.GetStringAsync($"/v1/usage/breakdown{query}&format=csv");
        Assert.Equal(expected, downloaded);
        Assert.Contains("gpt-4o", downloaded);
        await ConsoleApp.ScreenshotAsync(page, "explore");
    }

    [Fact]
    public async Task AViewerIsRefusedAnAdminsPageWithTheMissingRoleNamed()
    {
        var (tenant, _) = await console.CreateTenantAsync("console-viewer");
        await console.AddMemberAsync(tenant, "viewer@roles.example", "viewer");
        var page = await console.NewPageAsync();
        await ConsoleApp.SignInAsync(page, "viewer@roles.example");
        await ConsoleApp.GoAsync(page, "/budgets");
        await page.GetByText("No budgets yet.").WaitForAsync();
        Assert.Equal(0, await page.GetByTestId("budget-form-create").CountAsync());

        // The page an admin uses: the API refuses the viewer, and the console says why.
        await ConsoleApp.GoAsync(page, "/members");
        var alert = page.GetByRole(AriaRole.Alert);
        await Assertions.Expect(alert).ToContainTextAsync("This needs the 'admin' role; you are 'viewer'.");
        await ConsoleApp.ScreenshotAsync(page, "viewer-refused");
    }

    [Fact]
    public async Task AMemberOfAnotherTenantNeverSeesThisTenantsData()
    {
        var (tenantA, keyA) = await console.CreateTenantAsync("console-iso-a");
        await console.IngestAsync(keyA, Events("iso-a", 6));
        var (tenantB, _) = await console.CreateTenantAsync("console-iso-b");
        await console.AddMemberAsync(tenantB, "owner@iso-b.example", "owner");

        var page = await console.NewPageAsync();
        await ConsoleApp.SignInAsync(page, "owner@iso-b.example");
        Assert.Equal("$0.00", await page.GetByTestId("spend-this-month").InnerTextAsync());
        Assert.Equal("no events yet", await page.GetByTestId("freshness").InnerTextAsync());

        // Tenant A's event id, looked up from tenant B's console: no record of it.
        await page.GotoAsync("/events/iso-a-0");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("No record of event 'iso-a-0'");
        await ConsoleApp.GoAsync(page, "/explore");
        await page.GetByText("No usage matches in this range.").WaitForAsync();
        Assert.DoesNotContain(tenantA, await page.ContentAsync());
        await ConsoleApp.ScreenshotAsync(page, "isolation");
    }

    [FullFormFact]
    public async Task AnEmptyTenantLoadsDemoDataAndTheOverviewFills()
    {
        var (tenant, _) = await console.CreateTenantAsync("console-demo");
        var owner = await console.AddMemberAsync(tenant, "owner@demo.example", "owner");
        var page = await console.NewPageAsync();
        await ConsoleApp.SignInAsync(page, "owner@demo.example");
        await page.GetByTestId("seed-demo").ClickAsync();

        // Once stored, the overview shows the demo's spend; it equals the query API's total for the month.
        await Assertions.Expect(page.GetByTestId("spend-this-month")).Not.ToHaveTextAsync("$0.00", new() { Timeout = 120_000 });
        using var query = console.As("query-api", owner);
        var from = DateTimeOffset.UtcNow.AddDays(-31).ToString("yyyy-MM-ddT00:00:00Z");
        var answer = await ConsoleApp.ReadAsync(await query.GetAsync($"/v1/usage/breakdown?from={from}&to={DateTimeOffset.UtcNow.AddHours(1):yyyy-MM-ddTHH:00:00Z}&group_by=application"));
        Assert.Equal(4, answer["rows"]!.AsArray().Count);
        using var controlPlane = console.As("control-plane", owner);
        var budgets = await ConsoleApp.ReadAsync(await controlPlane.GetAsync($"/v1/tenants/{tenant}/budgets"));
        Assert.Equal("demo-monthly", (string)budgets["budgets"]![0]!["name"]!);
        await ConsoleApp.ScreenshotAsync(page, "demo");
    }

    /// <summary>
    /// A member invited but never given a password signs in at the tenant's own OpenID Connect provider (the local test
    /// issuer): the console's handler sends the browser there and back, the control plane redeems the code, and the member
    /// lands on the overview as themselves.
    /// </summary>
    [FullFormFact]
    public async Task AnInvitedMemberSignsInAtTheTenantsOwnProvider()
    {
        await using var issuer = await OidcTestIssuer.StartAsync();
        var (tenant, _) = await console.CreateTenantAsync("console-sso");
        using (var controlPlane = console.Operator("control-plane"))
        {
            await ConsoleApp.ReadAsync(await controlPlane.PutAsJsonAsync($"/v1/tenants/{tenant}/sso",
                new { authority = issuer.Authority, client_id = issuer.ClientId, client_secret = issuer.ClientSecret }));
            await ConsoleApp.ReadAsync(await controlPlane.PostAsJsonAsync($"/v1/tenants/{tenant}/members", new { email = "grace@sso.example", role = "admin" }));
        }

        issuer.SignedIn = new TestPerson("grace@sso.example");
        var page = await console.NewPageAsync();
        await page.GotoAsync("/sign-in");
        await page.FillAsync("#organization", "console-sso");
        await page.ClickAsync("#sso");
        await Assertions.Expect(page.GetByTestId("member")).ToHaveTextAsync("grace@sso.example · admin");
        Assert.Equal("console-sso", await page.GetByTestId("tenant-name").InnerTextAsync());
        Assert.Equal(1, issuer.Redemptions);
        await ConsoleApp.ScreenshotAsync(page, "single-sign-on");

        // Someone the tenant never invited is turned back to the form with the reason.
        issuer.SignedIn = new TestPerson("mallory@elsewhere.example");
        var stranger = await console.NewPageAsync();
        await stranger.GotoAsync("/sign-in");
        await stranger.FillAsync("#organization", "console-sso");
        await stranger.ClickAsync("#sso");
        await Assertions.Expect(stranger.GetByRole(AriaRole.Alert)).ToContainTextAsync("is not a member of console-sso");
    }

    /// <summary>
    /// An admin adds a negotiated price on the Prices page, per million tokens as people write it; the registry keeps it
    /// per token, exactly, as the tenant's own override — and another tenant does not see it.
    /// </summary>
    [FullFormFact]
    public async Task AnAdminAddsANegotiatedPriceAndTheRegistryKeepsItExactly()
    {
        var (tenant, _) = await console.CreateTenantAsync("console-prices");
        var admin = await console.AddMemberAsync(tenant, "admin@prices.example", "admin");
        var page = await console.NewPageAsync();
        await ConsoleApp.SignInAsync(page, "admin@prices.example");
        await ConsoleApp.GoAsync(page, "/prices");
        await page.GetByTestId("no-overrides").WaitForAsync();
        await Input(page, "override-model").FillAsync("ft:gpt-4o-mini:console-prices");
        await Input(page, "override-input").FillAsync("0.15");
        await Input(page, "override-output").FillAsync("0.6");
        await page.GetByTestId("override-add").ClickAsync();
        await Assertions.Expect(page.GetByTestId("override")).ToContainTextAsync("$0.15");

        using var registry = console.As("price-registry", admin);
        var own = await ConsoleApp.ReadAsync(await registry.GetAsync("/v1/prices/overrides"));
        var version = own["models"]![0]!["versions"]![0]!;
        Assert.Equal(("0.00000015", "0.0000006"), ((string)version["prices"]!["input_cost_per_token"]!, (string)version["prices"]!["output_cost_per_token"]!));
        var (_, otherKey) = await console.CreateTenantAsync("console-prices-other");
        using var other = console.As("price-registry", otherKey);
        Assert.Empty((await ConsoleApp.ReadAsync(await other.GetAsync("/v1/prices/overrides")))["models"]!.AsArray());
        await ConsoleApp.ScreenshotAsync(page, "prices-negotiated");
    }

    /// <summary>An admin sets the tenant's time zone in Settings; from then on the console shows times in it.</summary>
    [FullFormFact]
    public async Task TimesAreShownInTheTenantsTimeZone()
    {
        var (tenant, key) = await console.CreateTenantAsync("console-zone");
        await console.AddMemberAsync(tenant, "admin@zone.example", "admin");
        var events = Events("zone", 1);
        await console.IngestAsync(key, events);

        var page = await console.NewPageAsync();
        await ConsoleApp.SignInAsync(page, "admin@zone.example");
        Assert.Equal("UTC", await page.GetByTestId("reader-zone").InnerTextAsync());
        await ConsoleApp.GoAsync(page, "/settings");
        await Input(page, "time-zone").FillAsync("Asia/Tok");
        await page.GetByText("Asia/Tokyo", new() { Exact = true }).ClickAsync();
        await page.GetByTestId("time-zone-save").ClickAsync();
        await Assertions.Expect(page.GetByTestId("reader-zone")).ToHaveTextAsync("Asia/Tokyo");

        using (var controlPlane = console.Operator("control-plane"))
        {
            Assert.Equal("Asia/Tokyo", (string)(await ConsoleApp.ReadAsync(await controlPlane.GetAsync($"/v1/tenants/{tenant}")))["time_zone"]!);
        }

        await ConsoleApp.GoAsync(page, "/events");
        var at = DateTimeOffset.Parse((string)System.Text.Json.JsonSerializer.SerializeToNode(events[0])!["timestamp"]!, CultureInfo.InvariantCulture);
        var tokyo = TimeZoneInfo.ConvertTime(at, TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo")).ToString("g", CultureInfo.GetCultureInfo("en-US"));
        await Assertions.Expect(page.GetByTestId("events-table")).ToContainTextAsync(tokyo);
        await ConsoleApp.ScreenshotAsync(page, "time-zone");
    }

    /// <summary>Priced events of this month: a mix of models, applications and teams, a few minutes old.</summary>
    private static List<object> Events(string prefix, int count)
    {
        string[] models = ["gpt-4o", "gpt-4o-mini"];
        string[] teams = ["cx", "eng", "growth"];
        var at = DateTimeOffset.UtcNow.AddMinutes(-5).ToString("O");
        return [.. Enumerable.Range(0, count).Select(i => (object)new
        {
            event_id = $"{prefix}-{i}",
            timestamp = at,
            provider = "openai",
            model = models[i % models.Length],
            usage = new { input_tokens = 1_000 + 37 * i, output_tokens = 100 + 11 * i },
            application = $"app-{i % 2}",
            team = teams[i % teams.Length],
            user_id = $"u-{i % 4}",
        })];
    }

    /// <summary>A MudBlazor text field's input, whichever element its test id landed on.</summary>
    private static ILocator Input(IPage page, string testId) =>
        page.Locator($"[data-testid={testId}] input, input[data-testid={testId}]").First;

    private static decimal Decimal(JsonNode? value) => value is null ? 0m : decimal.Parse((string)value!, CultureInfo.InvariantCulture);

    /// <summary>How an en-US reader sees an exact amount: every digit, at least two.</summary>
    private static string Dollars(decimal value)
    {
        var format = (NumberFormatInfo)CultureInfo.GetCultureInfo("en-US").NumberFormat.Clone();
        format.CurrencyDecimalDigits = Math.Max(2, (int)value.Scale);
        return value.ToString("C", format);
    }
}
