using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Tokage.ClickHouseLocal.Http;
using Tokage.ClickHouseLocal.Native;

namespace Tokage.ClickHouseLocal;

/// <summary>Wiring of the host: options from config and command line, Kestrel, the chDB engine, the endpoints.</summary>
public static class ClickHouseLocalHost
{
    private const string Section = ClickHouseLocalOptions.SectionName;

    private static readonly Dictionary<string, string> Switches = new(StringComparer.Ordinal)
    {
        ["--http-port"] = $"{Section}:{nameof(ClickHouseLocalOptions.HttpPort)}",
        ["--listen-host"] = $"{Section}:{nameof(ClickHouseLocalOptions.ListenHost)}",
        ["--data-path"] = $"{Section}:{nameof(ClickHouseLocalOptions.DataPath)}",
        ["--user"] = $"{Section}:{nameof(ClickHouseLocalOptions.User)}",
        ["--password"] = $"{Section}:{nameof(ClickHouseLocalOptions.Password)}",
        ["--chdb-lib"] = $"{Section}:{nameof(ClickHouseLocalOptions.ChdbLibrary)}",
        ["--pool-size"] = $"{Section}:{nameof(ClickHouseLocalOptions.PoolSize)}",
        ["--spool-path"] = $"{Section}:{nameof(ClickHouseLocalOptions.SpoolPath)}",
        ["--enable-test-endpoints"] = $"{Section}:{nameof(ClickHouseLocalOptions.EnableTestEndpoints)}",
    };

    private static readonly HashSet<string> Flags = ["--enable-test-endpoints"];

    /// <summary>Gives valueless flags a value (<c>--enable-test-endpoints</c> → <c>--enable-test-endpoints=true</c>).</summary>
    public static string[] NormalizeArguments(string[] args)
    {
        var result = new List<string>(args.Length);
        for (var i = 0; i < args.Length; i++)
        {
            var nextIsValue = i + 1 < args.Length && !args[i + 1].StartsWith('-');
            result.Add(Flags.Contains(args[i]) && !nextIsValue ? args[i] + "=true" : args[i]);
        }

        return [.. result];
    }

    public static WebApplicationBuilder AddClickHouseLocal(this WebApplicationBuilder builder, string[] args)
    {
        builder.Configuration.AddCommandLine(args, Switches);
        builder.Services.AddOptions<ClickHouseLocalOptions>()
            .Bind(builder.Configuration.GetSection(Section))
            .Validate(o => o.HttpPort is >= 0 and <= 65535, "HttpPort must be a TCP port.")
            .Validate(o => o.PoolSize is >= 1 and <= 64, "PoolSize must be between 1 and 64.")
            .ValidateOnStart();

        var options = builder.Configuration.GetSection(Section).Get<ClickHouseLocalOptions>() ?? new ClickHouseLocalOptions();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // ClickHouse has no body limit; bulk inserts are tens of MB.
            kestrel.Limits.MaxRequestBodySize = null;
            Listen(kestrel, options.ListenHost, options.HttpPort);
        });

        builder.Services.AddSingleton(sp =>
        {
            var library = ChdbLibraryLocator.Resolve(sp.GetRequiredService<IOptions<ClickHouseLocalOptions>>().Value.ChdbLibrary, out _)
                ?? throw new InvalidOperationException("libchdb.so was not found.");
            return ChdbEngine.Start(library, sp.GetRequiredService<IOptions<ClickHouseLocalOptions>>(), sp.GetRequiredService<ILogger<ChdbEngine>>());
        });
        builder.Services.AddSingleton<QueryHandler>();
        return builder;
    }

    public static WebApplication MapClickHouseHttp(this WebApplication app)
    {
        app.MapClickHouseEndpoints();
        if (app.Services.GetRequiredService<IOptions<ClickHouseLocalOptions>>().Value.EnableTestEndpoints)
        {
            app.MapTestEndpoints();
        }

        return app;
    }

    /// <summary>
    /// Starts chDB, serves until SIGTERM/Ctrl-C, closes chDB and leaves with <c>_exit</c>. Returns only
    /// when chDB was never loaded (library missing), with a non-zero exit code.
    /// </summary>
    public static async Task<int> RunClickHouseLocalAsync(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<ClickHouseLocalOptions>>().Value;
        var library = ChdbLibraryLocator.Resolve(options.ChdbLibrary, out var tried);
        if (library is null)
        {
            await Console.Error.WriteLineAsync(
                "clickhouse-local: libchdb.so (chDB " + ClickHouseLocalOptions.ChdbVersion + ") not found. Tried:\n  "
                + string.Join("\n  ", tried)
                + "\nRun ./scripts/setup.sh to fetch it, or point --chdb-lib / ClickHouseLocal:ChdbLibrary / "
                + ChdbLibraryLocator.EnvironmentVariable + " at it.");
            return 2;
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tokage.ClickHouseLocal");
        ChdbEngine engine;
        try
        {
            engine = app.Services.GetRequiredService<ChdbEngine>();
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"clickhouse-local: chDB failed to start on '{Path.GetFullPath(options.DataPath)}': {ex.Message}");
            LibC.Exit(3);
            return 3;
        }

        logger.LogInformation("chDB {Version} from {Library}; data path {DataPath}; {PoolSize} connection(s).",
            ClickHouseLocalOptions.ChdbVersion, engine.LibraryPath, engine.DataPath, engine.PoolSize);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            logger.LogInformation("ClickHouse HTTP interface listening on {Urls}.", string.Join(", ", addresses));
        });

        var exitCode = 0;
        try
        {
            // Disposes the host at the end, which closes chDB's connections (ChdbEngine.Dispose) and flushes logs.
            await app.RunAsync();
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"clickhouse-local: {ex}");
            exitCode = 1;
        }

        await Console.Out.FlushAsync();
        LibC.Exit(exitCode);
        return exitCode;
    }

    private static void Listen(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel, string host, int port)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.ListenLocalhost(port);
        }
        else if (host is "*" or "+" or "" || IPAddress.TryParse(host, out var any) && (any.Equals(IPAddress.Any) || any.Equals(IPAddress.IPv6Any)))
        {
            kestrel.ListenAnyIP(port);
        }
        else if (IPAddress.TryParse(host, out var address))
        {
            kestrel.Listen(address, port);
        }
        else
        {
            throw new InvalidOperationException($"--listen-host '{host}' is not an IP address or 'localhost'.");
        }
    }
}
