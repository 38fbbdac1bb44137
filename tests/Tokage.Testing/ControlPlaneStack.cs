using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;
using Tokage.ApiKeys;
using Tokage.Contracts.V1;

namespace Tokage.Testing;

/// <summary>
/// PostgreSQL, Redis, the control plane and the auth service as real processes, configured as the AppHost
/// configures them, and ingestion instances on demand. One stack per test class.
/// </summary>
public sealed class ControlPlaneStack : IAsyncLifetime
{
    /// <summary>Environment every service of the stack gets besides its engines, e.g. log levels for a benchmark.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    public const string AdminToken = "test-admin-token-0123456789abcdef";
    /// <summary>The pseudonym key every service of the stack shares, as the AppHost gives them one.</summary>
    public const string PiiHashKey = "test-pii-key-0123456789abcdef";

    /// <summary>The price registry's feed token, which the processor presents.</summary>
    public const string PriceFeedToken = "test-price-feed-token-0123456789";

    public const string Database = "tokage";

    private GrpcChannel? channel;
    private readonly List<ApiKeyInvalidationListener> listeners = [];
    private readonly List<ServiceProcess> started = [];
    private ConnectionMultiplexer? callerRedis;

    public PostgresProcess Postgres { get; private set; } = null!;

    public RedisProcess Redis { get; private set; } = null!;

    public ServiceProcess ControlPlane { get; private set; } = null!;

    public ServiceProcess Auth { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public AuthService.AuthServiceClient AuthClient { get; private set; } = null!;

    /// <summary>How the services connect: the application role, which owns nothing and cannot bypass RLS.</summary>
    public string AppRoleConnectionString => DatabaseMigratorProcess.ConnectionString(Postgres, Database, DatabaseMigratorProcess.AppRole);

    /// <summary>How the price registry connects: a role that may only read and append price versions.</summary>
    public string PricesRoleConnectionString => DatabaseMigratorProcess.ConnectionString(Postgres, Database, DatabaseMigratorProcess.PricesRole);

    /// <summary>What every service of the stack gets (the database as the application role), as the AppHost gives it.</summary>
    public Dictionary<string, string> Environment => new(Settings)
    {
        ["ConnectionStrings__tokage"] = AppRoleConnectionString,
        ["ConnectionStrings__redis"] = Redis.ConnectionString,
        ["Tokage__ControlPlane__AdminToken"] = AdminToken,
        ["Tokage__DataPolicy__PiiHashKey"] = PiiHashKey,
        ["Tokage__PriceRegistry__FeedToken"] = PriceFeedToken,
        ["Tokage__Auth__CacheSigningKey"] = "test-key-cache-signing-key-0123456789abcdef",
        ["Tokage__Processor__PriceFeedToken"] = PriceFeedToken,
        ["Tokage__ControlPlane__MailDropDirectory"] = MailDirectory,
        // The test identity provider (OidcTestIssuer) speaks plain HTTP on loopback.
        ["Tokage__ControlPlane__AllowHttpIdentityProviders"] = "true",
    };

    /// <summary>Where the control plane drops members' mail (invitations, reset links) as files.</summary>
    public string MailDirectory { get; } = Path.Combine(Path.GetTempPath(), "tokage-mail-" + Guid.NewGuid().ToString("N"));

    /// <summary>The link in the newest message to <paramref name="to"/> whose subject has <paramref name="subject"/> (waits for it to arrive).</summary>
    public async Task<Uri> ReadMailedLinkAsync(string to, string subject)
    {
        string? link = null;
        await EventuallyAsync(() =>
        {
            var files = Directory.Exists(MailDirectory) ? Directory.GetFiles(MailDirectory, "*.txt").Order(StringComparer.Ordinal).ToArray() : [];
            link = files.Select(File.ReadAllText)
                .Where(text => text.StartsWith($"To: {to}\n", StringComparison.Ordinal) && text.Split('\n')[1].Contains(subject, StringComparison.Ordinal))
                .Select(text => text.Split('\n').FirstOrDefault(line => line.StartsWith("http", StringComparison.Ordinal)))
                .LastOrDefault(l => l is not null);
            return Task.FromResult(link is not null);
        }, TimeSpan.FromSeconds(10), $"mail '{subject}' to {to}");
        return new Uri(link!);
    }

    public async Task InitializeAsync()
    {
        try
        {
            await StartAsync();
        }
        catch
        {
            // xunit does not dispose a fixture whose start failed: leave no process behind.
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync()
    {
        var postgres = PostgresProcess.StartAsync();
        var redis = RedisProcess.StartAsync();
        (Postgres, Redis) = (await postgres, await redis);
        await Postgres.CreateDatabaseAsync(Database);
        await DatabaseMigratorProcess.RunAsync(Postgres, Database);

        ControlPlane = await ServiceProcess.StartAsync("ControlPlane", Environment);
        Auth = await ServiceProcess.StartAsync("Auth", Environment);

        Admin = new HttpClient { BaseAddress = ControlPlane.HttpUri };
        Admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        channel = GrpcChannel.ForAddress(Auth.GrpcUri);
        AuthClient = new AuthService.AuthServiceClient(channel);
    }

    /// <summary>
    /// An ingestion instance on this stack: the event log on this Redis (Redis Streams) unless
    /// <paramref name="eventLog"/> names another, keys resolved by this auth service.
    /// </summary>
    public async Task<ServiceProcess> StartIngestionAsync(string? eventLog = null, IReadOnlyDictionary<string, string>? settings = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__events"] = eventLog ?? EventLogConnectionString,
            ["Tokage__ApiKeys__AuthAddress"] = Auth.GrpcUri.ToString().TrimEnd('/'),
            ["Tokage__ApiKeys__Timeout"] = "00:00:15",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        return await StartServiceAsync("Ingestion", environment);
    }

    /// <summary>The event log on this stack's Redis (Redis Streams), as the AppHost wires it locally.</summary>
    public string EventLogConnectionString => $"Transport=RedisStreams;Redis={Redis.ConnectionString}";

    /// <summary>A service of the stack (its asset name, e.g. <c>QueryApi</c>) with the stack's environment and <paramref name="settings"/> over it; stopped with the stack.</summary>
    public async Task<ServiceProcess> StartServiceAsync(string asset, IReadOnlyDictionary<string, string> settings)
    {
        var environment = Environment;
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        var service = await ServiceProcess.StartAsync(asset, environment);
        started.Add(service);
        return service;
    }

    public async Task DisposeAsync()
    {
        foreach (var service in started)
        {
            await service.DisposeAsync();
        }

        Admin?.Dispose();
        foreach (var listener in listeners)
        {
            await listener.StopAsync(CancellationToken.None);
        }

        callerRedis?.Dispose();
        channel?.Dispose();
        if (Directory.Exists(MailDirectory))
        {
            Directory.Delete(MailDirectory, recursive: true);
        }

        foreach (var service in new IAsyncDisposable?[] { Auth, ControlPlane, Redis, Postgres })
        {
            if (service is not null)
            {
                await service.DisposeAsync();
            }
        }
    }

    /// <summary>A caller's resolver (as ingestion and query-api run it: LRU, Redis invalidations) against this stack's auth service.</summary>
    public async Task<CachingApiKeyResolver> NewCallerResolverAsync(TimeSpan cacheTtl)
    {
        // A generous deadline: these tests assert what the answer is, and CI runs them beside the whole AppHost on 2 cores.
        var resolver = new CachingApiKeyResolver(AuthClient, Options.Create(new ApiKeyClientOptions { CacheTtl = cacheTtl, Timeout = TimeSpan.FromSeconds(15) }), NullLogger<CachingApiKeyResolver>.Instance);
        callerRedis ??= await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString);
        var listener = new ApiKeyInvalidationListener(callerRedis, resolver, NullLogger<ApiKeyInvalidationListener>.Instance);
        listeners.Add(listener);
        await listener.StartAsync(CancellationToken.None);
        if (callerRedis.IsConnected)
        {
            await EventuallyAsync(() => Task.FromResult(listener.IsSubscribed), TimeSpan.FromSeconds(5), "the caller subscribed to invalidations");
        }

        return resolver;
    }

    /// <summary>POST /v1/tenants; returns the response body (tenant_id, api_key, …).</summary>
    public async Task<JsonObject> CreateTenantAsync(string name, bool testMode = false)
    {
        using var response = await Admin.PostAsJsonAsync("/v1/tenants", new { name, test_mode = testMode });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST /v1/tenants: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>A passphrase the control plane accepts for a member.</summary>
    public const string MemberPassword = "correct horse battery staple";

    /// <summary>A member of <paramref name="tenantId"/> with <paramref name="role"/>, invited by the operator, joined and signed in: the session token.</summary>
    public async Task<string> SignedInMemberAsync(string tenantId, string email, string role)
    {
        var invited = await PostAsync($"/v1/tenants/{tenantId}/members", new { email, role });
        var query = System.Web.HttpUtility.ParseQueryString(new Uri((string)invited["invitation_url"]!).Query);
        using var anonymous = new HttpClient { BaseAddress = ControlPlane.HttpUri };
        using (var accepted = await anonymous.PostAsJsonAsync("/v1/auth/invitations/accept", new { member_id = query["member"], token = query["token"], password = MemberPassword }))
        {
            Assert.True(accepted.IsSuccessStatusCode, $"accepting {email}'s invitation: {(int)accepted.StatusCode} {await accepted.Content.ReadAsStringAsync()}");
        }

        using var session = await anonymous.PostAsJsonAsync("/v1/auth/sign-in", new { email, password = MemberPassword });
        var text = await session.Content.ReadAsStringAsync();
        Assert.True(session.IsSuccessStatusCode, $"signing {email} in: {(int)session.StatusCode} {text}");
        return (string)JsonNode.Parse(text)!["token"]!;
    }

    public async Task<JsonObject> PostAsync(string path, object body)
    {
        using var response = await Admin.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<JsonObject> PutAsync(string path, object body)
    {
        using var response = await Admin.PutAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"PUT {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>A client of the control plane that presents <paramref name="token"/> (a key or a session), or nothing when null.</summary>
    public HttpClient ControlPlaneAs(string? token)
    {
        var client = new HttpClient { BaseAddress = ControlPlane.HttpUri };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>The response's JSON body, after asserting its status is <paramref name="expected"/> (the body is in the failure message).</summary>
    public static async Task<JsonObject> ReadAsync(HttpResponseMessage response, System.Net.HttpStatusCode expected)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"{response.RequestMessage!.Method} {response.RequestMessage.RequestUri}: {(int)response.StatusCode} {text}");
            return JsonNode.Parse(text)!.AsObject();
        }
    }

    public async Task<JsonObject> GetAsync(string path)
    {
        using var response = await Admin.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Polls until <paramref name="condition"/> holds; returns how long it took, or fails after <paramref name="within"/>.</summary>
    public static async Task<TimeSpan> EventuallyAsync(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var started = DateTime.UtcNow;
        while (DateTime.UtcNow - started < within)
        {
            if (await condition())
            {
                return DateTime.UtcNow - started;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"{what}: not within {within.TotalSeconds} s.");
        return within;
    }
}
