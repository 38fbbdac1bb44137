using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Web;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Tokage.Testing;

namespace Tokage.Console.Tests;

/// <summary>
/// The whole AppHost on local processes (Aspire.Hosting.Testing), Debian's chromium driven by Playwright, and helpers
/// that set a tenant up through the public APIs (the operator's admin token only where an operator acts: creating
/// tenants and their first owner). One per test class.
/// </summary>
public sealed class ConsoleApp : IAsyncLifetime
{
    public const string Password = "console test passphrase";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);
    private DirectoryInfo state = null!;
    private IPlaywright? playwright;

    public DistributedApplication App { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public Uri ConsoleUrl { get; private set; } = null!;

    /// <summary>Where each test leaves its screenshots for a person to look at (not committed).</summary>
    public static string ScreenshotDirectory { get; } = Path.Combine(RepositoryRoot(), ".tokage", "console");

    /// <summary>The fixture of the running class (xunit runs one class's tests one at a time), for diagnostics.</summary>
    private static ConsoleApp? Current { get; set; }

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> consoleLog = new();
    private readonly CancellationTokenSource stopping = new();

    /// <summary>What the console logged (its last 200 lines), for a failure's message.</summary>
    public string ConsoleLog() => string.Join('\n', consoleLog.TakeLast(200));

    public async Task InitializeAsync()
    {
        Current = this;
        state = Directory.CreateTempSubdirectory("tokage-console-");
        if (!OperatingSystem.IsWindows())
        {
            // PostgreSQL's own user (tests run as root) must reach its data directory inside.
            File.SetUnixFileMode(state.FullName, (UnixFileMode)0b111_101_101);
        }

        using var timeout = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Tokage_AppHost>(
            ["Tokage:Engines=local", $"Tokage:StateDirectory={state.FullName}"], timeout.Token);
        App = await builder.BuildAsync(timeout.Token);
        await App.StartAsync(timeout.Token);
        _ = Task.Run(async () =>
        {
            try
            {
                // By resource, not name: the logs live under the resource's instance (console-abcd1234).
                var resource = App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == "console");
                await foreach (var batch in App.Services.GetRequiredService<ResourceLoggerService>().WatchAsync(resource).WithCancellation(stopping.Token))
                {
                    foreach (var line in batch)
                    {
                        consoleLog.Enqueue(line.Content);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // Stopped with the fixture.
            }
        });
        foreach (var name in new[] { "console", "control-plane", "query-api", "ingestion", "event-processor", "price-registry", "billing-pipeline", "auth" })
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync(name, timeout.Token);
        }

        ConsoleUrl = App.GetEndpoint("console", "http");
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath(),
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public async Task DisposeAsync()
    {
        await stopping.CancelAsync();
        // The console's own log beside the screenshots, for a person looking into a failure.
        await File.WriteAllLinesAsync(Path.Combine(ScreenshotDirectory, "console.log"), consoleLog);
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        playwright?.Dispose();
        if (App is not null)
        {
            await App.StopAsync(CancellationToken.None);
            await App.DisposeAsync();
        }

        try
        {
            state?.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A process still closing a file: the temp directory is left for the OS to clean.
        }
    }

    /// <summary>A browser page in en-US and UTC (so the numbers it shows read as the test expects), at the console.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = ConsoleUrl.ToString(),
            Locale = "en-US",
            TimezoneId = "UTC",
            AcceptDownloads = true,
            ViewportSize = new ViewportSize { Width = 1400, Height = 1000 },
        });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        // What the browser said (script errors, failed requests), for a failure's message.
        var said = BrowserLog.GetOrCreateValue(page);
        page.Console += (_, message) => said.Enqueue($"console.{message.Type}: {message.Text}");
        page.RequestFailed += (_, request) => said.Enqueue($"request failed: {request.Method} {request.Url} {request.Failure}");
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                said.Enqueue($"{response.Status} {response.Request.Method} {response.Url}");
            }
        };
        return page;
    }

    /// <summary>Signs in through the console's form and waits for the overview.</summary>
    public static async Task SignInAsync(IPage page, string email, string password = Password)
    {
        await page.GotoAsync("/sign-in");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("form[action='/account/sign-in'] button[type=submit]");
        try
        {
            await page.GetByTestId("member").WaitForAsync();
            await WaitInteractiveAsync(page);
        }
        catch (TimeoutException ex)
        {
            await ScreenshotAsync(page, "sign-in-failed");
            throw new TimeoutException($"Not signed in; the page at {page.Url} shows:\n{await page.InnerTextAsync("body")}\nThe browser said:\n{BrowserSaid(page)}\nThe console logged:\n{Current!.ConsoleLog()}", ex);
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IPage, System.Collections.Concurrent.ConcurrentQueue<string>> BrowserLog = [];

    /// <summary>What the browser said on this page so far.</summary>
    public static string BrowserSaid(IPage page) => string.Join('\n', BrowserLog.GetOrCreateValue(page));

    /// <summary>Opens a console page and waits until its controls answer (the interactive circuit has rendered it).</summary>
    public static async Task GoAsync(IPage page, string path)
    {
        await page.GotoAsync(path);
        await WaitInteractiveAsync(page);
    }

    public static Task WaitInteractiveAsync(IPage page) =>
        page.Locator("[data-interactive=true]").WaitForAsync(new() { State = WaitForSelectorState.Attached });

    public static async Task ScreenshotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });

    /// <summary>The operator's client (the AppHost's admin token) for a service.</summary>
    public HttpClient Operator(string service)
    {
        var client = App.CreateHttpClient(service, "http");
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", File.ReadAllText(Path.Combine(state.FullName, "secrets", "admin-token")).Trim());
        return client;
    }

    public HttpClient As(string service, string token)
    {
        var client = App.CreateHttpClient(service, "http");
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>A new tenant (its id and first API key, which has ingest and read).</summary>
    public async Task<(string TenantId, string ApiKey)> CreateTenantAsync(string name)
    {
        using var controlPlane = Operator("control-plane");
        var created = await ReadAsync(await controlPlane.PostAsJsonAsync("/v1/tenants", new { name }));
        return ((string)created["tenant_id"]!, (string)created["api_key"]!);
    }

    /// <summary>Invites a member (as the operator) and accepts the invitation through the API; returns the member's session token.</summary>
    public async Task<string> AddMemberAsync(string tenant, string email, string role)
    {
        using var controlPlane = Operator("control-plane");
        var invited = await ReadAsync(await controlPlane.PostAsJsonAsync($"/v1/tenants/{tenant}/members", new { email, role }));
        var query = HttpUtility.ParseQueryString(new Uri((string)invited["invitation_url"]!).Query);
        using var anonymous = App.CreateHttpClient("control-plane", "http");
        var session = await ReadAsync(await anonymous.PostAsJsonAsync("/v1/auth/invitations/accept", new { member_id = query["member"], token = query["token"], password = Password }));
        return (string)session["token"]!;
    }

    /// <summary>Sends events with the tenant's key and waits until the query API counts them all.</summary>
    public async Task IngestAsync(string apiKey, IReadOnlyList<object> events)
    {
        using var ingest = As("ingestion", apiKey);
        var answer = await ReadAsync(await ingest.PostAsJsonAsync("/v1/events/batch", new { events }));
        Assert.Equal(events.Count, (int)answer["accepted"]!);
        using var query = As("query-api", apiKey);
        var from = DateTimeOffset.UtcNow.AddDays(-40).ToString("yyyy-MM-ddT00:00:00Z");
        var to = DateTimeOffset.UtcNow.AddDays(1).ToString("yyyy-MM-ddT00:00:00Z");
        await ControlPlaneStack.EventuallyAsync(async () =>
        {
            using var response = await query.GetAsync($"/v1/usage/breakdown?from={from}&to={to}");
            return response.IsSuccessStatusCode && (long)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["totals"]!["events"]! >= events.Count;
        }, TimeSpan.FromSeconds(90), $"{events.Count} events are queryable");
    }

    public static async Task<JsonObject> ReadAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{response.RequestMessage!.Method} {response.RequestMessage.RequestUri}: {(int)response.StatusCode} {text}");
            return JsonNode.Parse(text)!.AsObject();
        }
    }

    private static string ChromiumPath() =>
        Environment.GetEnvironmentVariable("TOKAGE_CHROMIUM") is { Length: > 0 } configured ? configured
        : File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium"
        : throw new InvalidOperationException("Debian's chromium is missing: run ./scripts/setup.sh (it installs it), or set TOKAGE_CHROMIUM.");

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Tokage.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? Directory.GetCurrentDirectory();
    }
}
