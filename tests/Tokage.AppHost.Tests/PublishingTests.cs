using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Tokage.Deploy;
using YamlDotNet.Serialization;

namespace Tokage.AppHost.Tests;

/// <summary>
/// The two publishers run as a user runs them (<c>dotnet run --project Tokage.AppHost -- --publisher …</c>),
/// and their output is compared with the snapshots under Snapshots/. After an intended change, run the
/// tests with TOKAGE_UPDATE_SNAPSHOTS=1 and review the diff of Snapshots/.
/// </summary>
public class PublishingTests
{
    private static readonly string RepositoryRoot = FindRepositoryRoot();
    private static readonly string SnapshotDirectory = Path.Combine(RepositoryRoot, "tests", "Tokage.AppHost.Tests", "Snapshots", "publish");

    [Fact]
    public async Task Manifest_and_kubernetes_outputs_match_their_snapshots()
    {
        var output = Path.Combine(RepositoryRoot, "artifacts", "publish-test");
        if (Directory.Exists(output))
        {
            Directory.Delete(output, recursive: true);
        }

        await RunAppHostAsync("--publisher", "kubernetes", "--output-path", output);

        var files = Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(output, f).Replace('\\', '/'), File.ReadAllText);
        Assert.Contains("aspire-manifest.json", files.Keys);
        Assert.Contains("kubernetes/kustomization.yaml", files.Keys);

        var normalized = NormalizeGeneratedSecrets(files);
        if (Environment.GetEnvironmentVariable("TOKAGE_UPDATE_SNAPSHOTS") == "1")
        {
            if (Directory.Exists(SnapshotDirectory))
            {
                Directory.Delete(SnapshotDirectory, recursive: true);
            }

            foreach (var (file, content) in normalized)
            {
                var path = Path.Combine(SnapshotDirectory, file);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await File.WriteAllTextAsync(path, content);
            }
        }

        Assert.True(Directory.Exists(SnapshotDirectory), $"No snapshots in {SnapshotDirectory}: run with TOKAGE_UPDATE_SNAPSHOTS=1 once.");
        var expected = Directory.EnumerateFiles(SnapshotDirectory, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(SnapshotDirectory, f).Replace('\\', '/'), File.ReadAllText);
        Assert.Equal(expected.Keys.Order(), normalized.Keys.Order());
        foreach (var (file, content) in expected)
        {
            Assert.True(content == normalized[file], $"{file} differs from its snapshot; run with TOKAGE_UPDATE_SNAPSHOTS=1 and review the diff.");
        }
    }

    [Fact]
    public async Task Publishing_again_keeps_the_secrets_and_every_file_is_owner_only()
    {
        var output = Directory.CreateTempSubdirectory("tokage-republish-").FullName;
        var parameters = Path.Combine(output, "kubernetes", $"{KubernetesManifests.ParametersSecret}.yaml");

        await RunAppHostAsync("--publisher", "kubernetes", "--output-path", output);
        var first = await File.ReadAllTextAsync(parameters);
        await RunAppHostAsync("--publisher", "kubernetes", "--output-path", output);

        Assert.Equal(first, await File.ReadAllTextAsync(parameters));
        Assert.Contains("redis-password", first);
        if (!OperatingSystem.IsWindows())
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(output, "kubernetes")))
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }
        }

        Directory.Delete(output, recursive: true);
    }

    [Fact]
    public async Task Manifest_describes_production_with_every_service_and_engine()
    {
        var output = Directory.CreateTempSubdirectory("tokage-manifest-").FullName;
        // Even a run that would choose local processes publishes containers: the manifest is production's shape.
        await RunAppHostAsync("--publisher", "manifest", "--output-path", output, "--Tokage:Engines=local");

        using var manifest = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(output, "aspire-manifest.json")));
        var resources = manifest.RootElement.GetProperty("resources");
        string TypeOf(string name) => resources.GetProperty(name).GetProperty("type").GetString()!;

        foreach (var service in new[] { "ingestion", "auth", "event-processor", "price-registry", "query-api", "control-plane", "billing-pipeline", "audit-log", "synthetic-monitor" })
        {
            Assert.Equal("project.v0", TypeOf(service));
        }

        foreach (var engine in new[] { "redis", "postgres", "redpanda", "analytics", "archive" })
        {
            Assert.Equal("container.v0", TypeOf(engine));
        }

        Assert.Equal("Transport=Kafka;BootstrapServers={redpanda.connectionString}", resources.GetProperty("events").GetProperty("connectionString").GetString());
        Assert.False(resources.TryGetProperty("analytics-host", out _), "the laptop's ClickHouse-local host must not be published");
        Directory.Delete(output, recursive: true);
    }

    /// <summary>Generated passwords differ on every publish; the snapshot names them instead.</summary>
    private static Dictionary<string, string> NormalizeGeneratedSecrets(Dictionary<string, string> files)
    {
        var parameters = new DeserializerBuilder().Build()
            .Deserialize<Dictionary<string, object>>(files[$"kubernetes/{KubernetesManifests.ParametersSecret}.yaml"]);
        var values = ((Dictionary<object, object>)parameters["stringData"])
            .Where(kv => kv.Value is string { Length: >= 22 } value && Regex.IsMatch(value, "^[A-Za-z0-9]+$"))
            .ToDictionary(kv => (string)kv.Value, kv => $"<generated:{kv.Key}>");
        return files.ToDictionary(
            kv => kv.Key,
            kv => values.Aggregate(kv.Value, (text, secret) => text.Replace(secret.Key, secret.Value)));
    }

    private static async Task RunAppHostAsync(params string[] arguments)
    {
        var configuration = typeof(PublishingTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "run", "--project", "Tokage.AppHost", "--no-build", "-c", configuration, "--no-launch-profile", "--" }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"AppHost publish failed ({process.ExitCode}):\n{await stdout}\n{await stderr}");
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Tokage.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Tokage.sln not found above the test's output directory.");
    }
}
