using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace Tokage.AppHost.Engines;

/// <summary>Which processes provide Redis, PostgreSQL, ClickHouse, the event log and the object store.</summary>
public enum EngineProviderKind
{
    /// <summary>Aspire's Redis/PostgreSQL containers plus Redpanda, ClickHouse server and MinIO containers.</summary>
    Containers,

    /// <summary>redis-server, PostgreSQL, the ClickHouse-local host and a filesystem object store as local processes.</summary>
    LocalProcesses,
}

/// <summary>The provider chosen once at start, and why (shown in the logs and on every engine resource).</summary>
public sealed record EngineProvider(EngineProviderKind Kind, string Reason)
{
    /// <summary>Configuration key: <c>auto</c> (default), <c>containers</c> or <c>local</c>.</summary>
    public const string ConfigurationKey = "Tokage:Engines";

    public string DisplayName => Kind == EngineProviderKind.Containers ? "container" : "local process";

    /// <summary>
    /// Publishing always describes production (containers or configured connection strings); a run uses
    /// what configuration asks for, else containers when a runtime answers, else local processes.
    /// </summary>
    public static EngineProvider Choose(IConfiguration configuration, bool isPublishMode, Func<string?> probeContainerRuntime)
    {
        if (isPublishMode)
        {
            return new(EngineProviderKind.Containers, "publishing describes production");
        }

        var requested = configuration[ConfigurationKey]?.Trim().ToLowerInvariant();
        switch (requested)
        {
            case "containers":
                return new(EngineProviderKind.Containers, $"{ConfigurationKey}=containers");
            case "local":
                return new(EngineProviderKind.LocalProcesses, $"{ConfigurationKey}=local");
            case null or "" or "auto":
                var runtime = probeContainerRuntime();
                return runtime is null
                    ? new(EngineProviderKind.LocalProcesses, "no container runtime answered")
                    : new(EngineProviderKind.Containers, $"container runtime '{runtime}' answered");
            default:
                throw new InvalidOperationException($"{ConfigurationKey}='{requested}' is not one of auto, containers, local.");
        }
    }

    /// <summary>
    /// Asks docker, then podman (or the one ASPIRE_CONTAINER_RUNTIME names) whether an engine is running.
    /// A client without an engine fails fast, so this costs milliseconds on machines without one.
    /// </summary>
    public static string? ProbeContainerRuntime()
    {
        var preferred = Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME")
            ?? Environment.GetEnvironmentVariable("DOTNET_ASPIRE_CONTAINER_RUNTIME");
        string[] candidates = preferred is { Length: > 0 } ? [preferred] : ["docker", "podman"];
        foreach (var runtime in candidates)
        {
            try
            {
                using var process = Process.Start(new ProcessStartInfo(runtime, "info --format {{.ServerVersion}}")
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                });
                if (process is null)
                {
                    continue;
                }

                if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
                {
                    process.Kill(entireProcessTree: true);
                    continue;
                }

                if (process.ExitCode == 0)
                {
                    return runtime;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not installed.
            }
        }

        return null;
    }
}
