using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tokage.Testing;

/// <summary>An HTTP server on a free loopback port, in the test process, for the local fakes of outside services (an OpenID provider, LLM providers).</summary>
public sealed class LocalWebServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private LocalWebServer(WebApplication app, Uri address)
    {
        this.app = app;
        Address = address;
    }

    /// <summary>http://127.0.0.1:port, without a trailing slash's path.</summary>
    public Uri Address { get; }

    public static async Task<LocalWebServer> StartAsync(Action<IEndpointRouteBuilder> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new LocalWebServer(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
