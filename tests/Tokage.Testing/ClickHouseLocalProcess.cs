using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;

namespace Tokage.Testing;

/// <summary>The host as a real child process (<c>dotnet Tokage.ClickHouseLocal.dll</c>) on a free port.</summary>
public sealed class ClickHouseLocalProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();
    private bool disposed;

    private ClickHouseLocalProcess(Process process, int port, string dataPath, string password)
    {
        this.process = process;
        Port = port;
        DataPath = dataPath;
        Password = password;
    }

    public int Port { get; }

    public string DataPath { get; }

    public string Password { get; }

    public Uri BaseUri => new($"http://127.0.0.1:{Port}/");

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Protocol=http;Username=default;Password={Password}";

    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    public static string HostAssembly =>
        typeof(ClickHouseLocalProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ClickHouseLocalHost").Value!;

    public static string NewDataPath() => Path.Combine(Path.GetTempPath(), "tokage-clickhouse-local-tests", Guid.NewGuid().ToString("N"));

    public static async Task<ClickHouseLocalProcess> StartAsync(string? dataPath = null, string password = "")
    {
        dataPath ??= NewDataPath();
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[HostAssembly, "--http-port", port.ToString(), "--data-path", dataPath, "--password", password, "--pool-size", "2", "--enable-test-endpoints"])
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var host = new ClickHouseLocalProcess(process, port, dataPath, password);
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The host exited with {process.ExitCode} before answering /ping:\n{host.Output}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(host.BaseUri, "ping"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return host;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        await host.DisposeAsync();
        throw new TimeoutException($"The host did not answer /ping within 30 s:\n{host.Output}");
    }

    /// <summary>SIGTERM, then the exit code (or null if it did not exit in time).</summary>
    public async Task<int?> StopAsync(TimeSpan timeout)
    {
        if (process.HasExited)
        {
            return process.ExitCode;
        }

        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()]))
        {
            await kill!.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        process.Kill();
        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        if (!process.HasExited && await StopAsync(TimeSpan.FromSeconds(10)) is null)
        {
            await KillAsync();
        }

        process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One host shared by the tests of a class; its data directory is removed afterwards.</summary>
public sealed class HostFixture : IAsyncLifetime
{
    public const string Password = "s3cret";

    private ClickHouseLocalProcess? host;

    public ClickHouseLocalProcess Host => host ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync() => host = await ClickHouseLocalProcess.StartAsync(password: Password);

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
