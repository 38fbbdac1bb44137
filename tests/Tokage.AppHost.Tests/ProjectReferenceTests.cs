using System.Xml.Linq;
using Tokage.Testing;

namespace Tokage.AppHost.Tests;

/// <summary>
/// Which project may reference which (docs/architecture.md), read from the project files themselves: libraries never
/// reach up into services, tools or tests; a service never references another (they talk over HTTP and gRPC); the
/// service defaults and the SDK stand alone.
/// </summary>
public sealed class ProjectReferenceTests
{
    private static readonly string Root = TestAssets.Path("RepositoryRoot");

    [Fact]
    public void EveryProjectReferencesOnlyWhatItsLayerMay()
    {
        var projects = Directory.EnumerateFiles(Root, "*.csproj", SearchOption.AllDirectories)
            .Where(p => !p.Split(Path.DirectorySeparatorChar).Intersect(["bin", "obj", "node_modules", "artifacts", ".tokage"]).Any())
            .ToDictionary(p => Path.GetRelativePath(Root, p).Replace('\\', '/'), References);
        Assert.Contains("services/Ingestion/Ingestion.csproj", projects.Keys);
        Assert.Contains("src/Tokage.Analytics/Tokage.Analytics.csproj", projects.Keys);

        var broken = projects.SelectMany(p => p.Value.Select(r => (From: p.Key, To: r)))
            .Select(edge => (edge.From, edge.To, Why: Refused(edge.From, edge.To)))
            .Where(edge => edge.Why is not null)
            .Select(edge => $"{edge.From} → {edge.To}: {edge.Why}")
            .ToList();
        Assert.True(broken.Count == 0, "references that break docs/architecture.md's rules:\n" + string.Join('\n', broken));
    }

    /// <summary>Why <paramref name="from"/> may not reference <paramref name="to"/>, or null when it may.</summary>
    private static string? Refused(string from, string to)
    {
        var (fromLayer, toLayer) = (Layer(from), Layer(to));
        return (fromLayer, toLayer) switch
        {
            (_, "tests" or "bench") when fromLayer is not ("tests" or "bench") => "production code never references tests or benchmarks",
            ("src", "services" or "tools" or "apphost") => "a library never reaches up into a service, a tool or the AppHost",
            ("services", "services") => "a service never references another; services talk over HTTP and gRPC",
            ("services", "tools" or "apphost") => "a service never references a tool or the AppHost",
            ("defaults", _) => "the service defaults stand alone",
            ("sdk", _) when !to.EndsWith("/Tokage.Contracts.csproj", StringComparison.Ordinal) => "the SDK ships to customers with the contracts only",
            ("local", _) => "the local engine hosts stand alone",
            _ => null,
        };
    }

    private static string Layer(string project) => project.Split('/')[0] switch
    {
        "src" => "src",
        "services" => "services",
        "tools" => "tools",
        "tests" => "tests",
        "bench" => "bench",
        "local" => "local",
        "Tokage.AppHost" => "apphost",
        "Tokage.ServiceDefaults" => "defaults",
        "sdks" => project.Contains("/samples/", StringComparison.Ordinal) ? "samples" : "sdk",
        var other => other,
    };

    private static List<string> References(string project) =>
        [.. XDocument.Load(project).Descendants("ProjectReference")
            .Select(r => Path.GetRelativePath(Root, Path.GetFullPath(Path.Combine(Path.GetDirectoryName(project)!, r.Attribute("Include")!.Value.Replace('\\', '/'))))
                .Replace('\\', '/'))];
}
