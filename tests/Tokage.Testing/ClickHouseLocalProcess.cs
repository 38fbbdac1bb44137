using System.Net;
using System.Reflection;

namespace Tokage.Testing;

/// <summary>The ClickHouse-local host as a real child process (<c>dotnet Tokage.ClickHouseLocal.dll</c>) on a free port.</summary>
public sealed class ClickHouseLocalProcess : IAsyncDisposable
{
    private readonly ChildProcess process;

    private ClickHouseLocalProcess(ChildProcess process, int port, string dataPath, string password, string readOnlyPassword)
    {
        this.process = process;
        Port = port;
        DataPath = dataPath;
        Password = password;
        ReadOnlyPassword = readOnlyPassword;
    }

    /// <summary>The host's read-only user (what the query API connects as); empty: none.</summary>
    public const string ReadOnlyUser = "tokage_reader";

    public string ReadOnlyPassword { get; }

    public string ReadOnlyConnectionString => $"Host=127.0.0.1;Port={Port};Protocol=http;Username={ReadOnlyUser};Password={ReadOnlyPassword}";

    public int Port { get; }

    public string DataPath { get; }

    public string Password { get; }

    public Uri BaseUri => new($"http://127.0.0.1:{Port}/");

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Protocol=http;Username=default;Password={Password}";

    public string Output => process.Output;

    public static string HostAssembly => TestAssets.Path("ClickHouseLocalHost");

    public static string NewDataPath() => Path.Combine(Path.GetTempPath(), "tokage-clickhouse-local-tests", Guid.NewGuid().ToString("N"));

    /// <param name="port">A port to listen on (a restart on the same data and port), else a free one.</param>
    /// <param name="readOnlyPassword">The read-only user's password (in the environment, as the AppHost gives it); empty: no such user.</param>
    public static async Task<ClickHouseLocalProcess> StartAsync(string? dataPath = null, string password = "", int? port = null, string readOnlyPassword = "")
    {
        dataPath ??= NewDataPath();
        port ??= ChildProcess.FreePort();
        var host = new ClickHouseLocalProcess(
            ChildProcess.Start("dotnet", [HostAssembly, "--http-port", port.Value.ToString(), "--data-path", dataPath, "--password", password, "--pool-size", "2", "--enable-test-endpoints"],
                new Dictionary<string, string> { ["ClickHouseLocal__ReadOnlyPassword"] = readOnlyPassword }),
            port.Value, dataPath, password, readOnlyPassword);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            await host.process.WaitUntilAsync("the ClickHouse-local host (/ping)", async () =>
            {
                using var response = await http.GetAsync(new Uri(host.BaseUri, "ping"));
                return response.StatusCode == HttpStatusCode.OK;
            }, TimeSpan.FromSeconds(30));
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }

        return host;
    }

    /// <summary>SIGTERM, then the exit code (or null if it did not exit in time).</summary>
    public Task<int?> StopAsync(TimeSpan timeout) => process.StopAsync(timeout);

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public Task KillAsync() => process.KillAsync();

    public ValueTask DisposeAsync() => process.DisposeAsync();
}

/// <summary>One host shared by the tests of a class; its data directory is removed afterwards.</summary>
public sealed class HostFixture : IAsyncLifetime
{
    public const string Password = "s3cret";

    public const string ReadOnlyPassword = "r3ader";

    private ClickHouseLocalProcess? host;

    public ClickHouseLocalProcess Host => host ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync() => host = await ClickHouseLocalProcess.StartAsync(password: Password, readOnlyPassword: ReadOnlyPassword);

    public async Task DisposeAsync()
    {
        if (host is not null)
        {
            await host.DisposeAsync();
            TryDelete(host.DataPath);
        }
    }

    public static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Paths of built programs the tests run, recorded at build time as assembly metadata.</summary>
public static class TestAssets
{
    public static string Path(string key) =>
        typeof(TestAssets).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"No test asset '{key}' was recorded in Tokage.Testing's build.");
}
