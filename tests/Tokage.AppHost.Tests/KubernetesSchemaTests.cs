using System.Text.RegularExpressions;
using YamlDotNet.Serialization;

namespace Tokage.AppHost.Tests;

/// <summary>
/// Every object <c>--publisher kubernetes</c> writes (its reviewed snapshot, which the publishing test keeps equal to
/// the output) parses as Kubernetes YAML and has what its kind requires: valid names, selectors that match their
/// pods, probes on the services, volume mounts that name a claim, a kustomization that lists files that exist. And
/// the production topology: two replicas and a disruption budget per service, PostgreSQL and Redis as StatefulSets
/// with volumes, Redis fsyncing every write, Redpanda as three brokers in production mode. (Where kubectl can be
/// installed it would add <c>kubectl apply --dry-run=client -k</c>; Debian's archive has no kubectl.)
/// </summary>
public sealed partial class KubernetesSchemaTests
{
    private static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "Snapshots", "publish", "kubernetes");

    private static readonly IDeserializer Yaml = new DeserializerBuilder().Build();

    private static readonly string[] Services =
        ["auth", "control-plane", "price-registry", "ingestion", "event-processor", "query-api", "billing-pipeline", "audit-log", "synthetic-monitor"];

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    private static Dictionary<string, List<Dictionary<object, object>>> Objects() =>
        System.IO.Directory.EnumerateFiles(Directory, "*.yaml").ToDictionary(
            file => Path.GetFileName(file)!,
            file => File.ReadAllText(file).Split("---\n").Select(Yaml.Deserialize<Dictionary<object, object>>).ToList());

    private static Dictionary<object, object> Map(object node, string key) => (Dictionary<object, object>)((Dictionary<object, object>)node)[key];

    private static List<object> List(object node, string key) => (List<object>)((Dictionary<object, object>)node)[key];

    [Fact]
    public void Every_object_has_what_its_kind_requires()
    {
        var objects = Objects();
        Assert.NotEmpty(objects);
        foreach (var (file, documents) in objects)
        {
            foreach (var document in documents)
            {
                var kind = (string)document["kind"];
                Assert.False(string.IsNullOrEmpty((string)document["apiVersion"]), $"{file}: {kind} without apiVersion");
                if (kind == "Kustomization")
                {
                    Assert.All(List(document, "resources"), r => Assert.True(File.Exists(Path.Combine(Directory, (string)r)), $"{file} lists {r}, which is missing"));
                    continue;
                }

                var name = (string)Map(document, "metadata")["name"];
                Assert.True(DnsLabel().IsMatch(name) && name.Length <= 63, $"{file}: {kind} name '{name}' is not a DNS label");
                switch (kind)
                {
                    case "Deployment" or "StatefulSet":
                        WorkloadIsValid(file, kind, document);
                        break;
                    case "Job":
                        var template = Map(Map(document, "spec"), "template");
                        Assert.Contains((string)Map(template, "spec")["restartPolicy"], new[] { "OnFailure", "Never" });
                        Assert.NotEmpty(List(Map(template, "spec"), "containers"));
                        break;
                    case "Service":
                        Assert.NotEmpty(List(document["spec"], "ports"));
                        Assert.All(List(document["spec"], "ports"), p => Assert.Matches("^[a-z0-9-]{1,15}$", (string)((Dictionary<object, object>)p)["name"]));
                        break;
                    case "PodDisruptionBudget":
                        Assert.NotEmpty(Map(Map(document, "spec")["selector"], "matchLabels"));
                        break;
                    case "Secret":
                        Assert.Equal("Opaque", (string)document["type"]);
                        Assert.IsType<Dictionary<object, object>>(document["stringData"]);
                        break;
                    default:
                        Assert.Fail($"{file}: unexpected kind {kind}");
                        break;
                }
            }
        }
    }

    private static void WorkloadIsValid(string file, string kind, Dictionary<object, object> workload)
    {
        var spec = Map(workload, "spec");
        var template = Map(spec, "template");
        var podLabels = Map(template, "metadata")["labels"] as Dictionary<object, object>;
        foreach (var (key, value) in Map(spec["selector"], "matchLabels"))
        {
            Assert.True(podLabels!.TryGetValue(key, out var label) && Equals(label, value), $"{file}: the selector {key}={value} matches no pod label");
        }

        var claims = kind == "StatefulSet" ? List(spec, "volumeClaimTemplates").Select(c => (string)Map(c, "metadata")["name"]).ToHashSet() : [];
        if (kind == "StatefulSet")
        {
            Assert.Equal((string)Map(workload, "metadata")["name"], (string)spec["serviceName"]);
        }

        foreach (Dictionary<object, object> container in List(Map(template, "spec"), "containers"))
        {
            Assert.True(DnsLabel().IsMatch((string)container["name"]), $"{file}: container name");
            Assert.False(string.IsNullOrEmpty((string)container["image"]), $"{file}: container without image");
            Assert.True(container.ContainsKey("resources"), $"{file}: no resource requests");
            foreach (Dictionary<object, object> mount in container.TryGetValue("volumeMounts", out var mounts) ? (List<object>)mounts : [])
            {
                Assert.True(DnsLabel().IsMatch((string)mount["name"]), $"{file}: volume '{mount["name"]}' is not a DNS label");
                Assert.Contains((string)mount["name"], claims);
            }
        }
    }

    [Fact]
    public void Services_run_twice_behind_probes_and_a_disruption_budget()
    {
        var objects = Objects();
        foreach (var service in Services)
        {
            var documents = objects[$"{service}.yaml"];
            var deployment = Assert.Single(documents, d => (string)d["kind"] == "Deployment");
            Assert.Equal("2", Map(deployment, "spec")["replicas"].ToString());
            var container = (Dictionary<object, object>)List(Map(Map(deployment, "spec")["template"], "spec"), "containers")[0];
            Assert.Equal("/health", (string)Map(container["readinessProbe"], "httpGet")["path"]);
            Assert.Equal("/alive", (string)Map(container["livenessProbe"], "httpGet")["path"]);
            Assert.Single(documents, d => (string)d["kind"] == "PodDisruptionBudget");
        }
    }

    [Fact]
    public void Engines_that_keep_data_are_stateful_and_durable()
    {
        var objects = Objects();
        foreach (var engine in new[] { "postgres", "redis", "redpanda", "analytics", "archive" })
        {
            var workload = objects[$"{engine}.yaml"][0];
            Assert.Equal("StatefulSet", (string)workload["kind"]);
            Assert.NotEmpty(List(workload["spec"], "volumeClaimTemplates"));
        }

        string Arguments(string engine) => string.Join(' ', List(List(Map(Map(objects[$"{engine}.yaml"][0], "spec")["template"], "spec"), "containers")[0], "args"));
        Assert.Contains("--appendonly yes --appendfsync always", Arguments("redis"));

        var redpanda = objects["redpanda.yaml"];
        Assert.Equal("3", Map(redpanda[0], "spec")["replicas"].ToString());
        Assert.DoesNotContain("dev-container", Arguments("redpanda"));
        Assert.Contains("--seeds=redpanda-0.redpanda:33145,redpanda-1.redpanda:33145,redpanda-2.redpanda:33145", Arguments("redpanda"));
        Assert.Equal("None", (string)Map(Assert.Single(redpanda, d => (string)d["kind"] == "Service"), "spec")["clusterIP"]);
        Assert.Single(redpanda, d => (string)d["kind"] == "PodDisruptionBudget");
    }

    /// <summary>
    /// Least privilege in what a deployment is given: the database owner's password reaches the migrator (a Job) and
    /// no service; every service that uses the database names a role of its own kind; each admin API has its own token.
    /// </summary>
    [Fact]
    public void Only_the_migrator_has_the_database_owner_and_each_admin_api_has_its_own_token()
    {
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Directory, "..", "aspire-manifest.json")))!["resources"]!.AsObject();
        var projects = manifest.Where(r => (string?)r.Value!["type"] == "project.v0")
            .ToDictionary(r => r.Key, r => r.Value!["env"]!.AsObject().ToDictionary(e => e.Key, e => (string)e.Value!));

        Assert.Contains("{tokage.connectionString}", projects["database-migrator"].Values);
        foreach (var (service, environment) in projects.Where(p => p.Key != "database-migrator"))
        {
            Assert.DoesNotContain(environment.Values, v => v.Contains("postgres-password", StringComparison.Ordinal) || v.Contains("{tokage.", StringComparison.Ordinal));
        }

        string Role(string service) => System.Text.RegularExpressions.Regex.Match(projects[service]["ConnectionStrings__tokage"], "Username=([a-z_]+);").Groups[1].Value;
        Assert.All(new[] { "control-plane", "auth", "query-api", "billing-pipeline" }, s => Assert.Equal("tokage_app", Role(s)));
        Assert.Equal("tokage_prices", Role("price-registry"));
        Assert.Equal("tokage_audit", Role("audit-log"));

        // The synthetic monitor holds no admin API: it is given the control plane's token, to create its operations tenant.
        var adminTokens = projects.Where(p => p.Key != "synthetic-monitor")
            .SelectMany(p => p.Value.Where(e => e.Key.EndsWith("__AdminToken", StringComparison.Ordinal)).Select(e => (Service: p.Key, e.Value))).ToList();
        Assert.Equal(5, adminTokens.Count);
        Assert.Equal(adminTokens.Count, adminTokens.Select(t => t.Value).Distinct().Count());
        Assert.Equal(projects["control-plane"]["Tokage__ControlPlane__AdminToken"], projects["synthetic-monitor"]["Tokage__Monitor__AdminToken"]);

        var job = Assert.Single(Objects()["database-migrator.yaml"], d => (string)d["kind"] == "Job");
        Assert.Equal("OnFailure", (string)Map(Map(Map(job, "spec"), "template"), "spec")["restartPolicy"]);
    }
}
