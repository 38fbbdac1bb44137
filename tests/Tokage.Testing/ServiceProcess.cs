using System.Net;

namespace Tokage.Testing;

/// <summary>
/// A Tokage service from its build output (<c>dotnet Tokage.X.dll</c>), configured by environment variables as
/// the AppHost would, with its HTTP/1.1 and h2c gRPC endpoints on free ports; ready when <c>/health</c> says so.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly ChildProcess process;

    private ServiceProcess(ChildProcess process, int httpPort, int grpcPort)
    {
        this.process = process;
        HttpUri = new Uri($"http://127.0.0.1:{httpPort}/");
        GrpcUri = new Uri($"http://127.0.0.1:{grpcPort}/");
    }

    public Uri HttpUri { get; }

    public Uri GrpcUri { get; }

    public string Output => process.Output;

    /// <summary>How many times <paramref name="text"/> occurs in the output from character <paramref name="from"/> on.</summary>
    public int CountInOutput(string text, int from = 0)
    {
        var output = Output;
        var (count, at) = (0, from);
        while ((at = output.IndexOf(text, at, StringComparison.Ordinal)) >= 0)
        {
            (count, at) = (count + 1, at + text.Length);
        }

        return count;
    }

    /// <summary>Whether the process has ended (crashed, or been stopped).</summary>
    public bool HasExited => process.HasExited;

    /// <param name="asset">The service's key in <see cref="TestAssets"/>, e.g. <c>ControlPlane</c>.</param>
    public static async Task<ServiceProcess> StartAsync(string asset, IReadOnlyDictionary<string, string> environment)
    {
        var (httpPort, grpcPort) = (ChildProcess.FreePort(), ChildProcess.FreePort());
        var variables = new Dictionary<string, string>(environment)
        {
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{httpPort}",
            ["Kestrel__Endpoints__http__Protocols"] = "Http1",
            ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{grpcPort}",
            ["Kestrel__Endpoints__grpc__Protocols"] = "Http2",
            ["DOTNET_ENVIRONMENT"] = "Production",
        };
        var service = new ServiceProcess(ChildProcess.Start("dotnet", [TestAssets.Path(asset)], variables), httpPort, grpcPort);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            await service.process.WaitUntilAsync($"{asset} (/health)", async () =>
            {
                using var response = await http.GetAsync(new Uri(service.HttpUri, "health"));
                return response.StatusCode == HttpStatusCode.OK;
            });
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }

        return service;
    }

    /// <summary>SIGKILL: no shutdown code runs (a crash).</summary>
    public Task KillAsync() => process.KillAsync();

    public ValueTask DisposeAsync() => process.DisposeAsync();
}
