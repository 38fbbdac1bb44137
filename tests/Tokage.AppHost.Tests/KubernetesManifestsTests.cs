using Tokage.Deploy;
using YamlDotNet.Serialization;

namespace Tokage.AppHost.Tests;

public class KubernetesManifestsTests
{
    private const string Manifest = """
        {
          "resources": {
            "db-password": { "type": "parameter.v0", "value": "{db-password.inputs.value}",
              "inputs": { "value": { "type": "string", "secret": true, "default": { "generate": { "minLength": 22 } } } } },
            "db-password-uri": { "type": "annotated.string", "value": "{db-password.value}", "filter": "uri" },
            "db": { "type": "container.v0", "image": "postgres:18",
              "connectionString": "Host={db.bindings.tcp.host};Port={db.bindings.tcp.port};Password={db-password.value}",
              "env": { "POSTGRES_PASSWORD": "{db-password.value}" },
              "volumes": [ { "name": "db-data", "target": "/var/lib/postgresql/data", "readOnly": false } ],
              "bindings": { "tcp": { "scheme": "tcp", "protocol": "tcp", "transport": "tcp", "targetPort": 5432 } } },
            "tokage": { "type": "value.v0", "connectionString": "{db.connectionString};Database=tokage" },
            "api": { "type": "project.v0", "path": "../api.csproj",
              "env": { "ConnectionStrings__tokage": "{tokage.connectionString}", "PORT": "{api.bindings.http.targetPort}",
                       "URI": "pg://:{db-password-uri.value}@{db.bindings.tcp.host}", "FLAG": "true" },
              "bindings": { "http": { "scheme": "http", "protocol": "tcp", "transport": "http", "port": 8080, "targetPort": 8001 } } }
          }
        }
        """;

    private static readonly IDeserializer Yaml = new DeserializerBuilder().Build();

    private static List<Dictionary<string, object>> Documents(string yaml) =>
        yaml.Split("---\n").Select(Yaml.Deserialize<Dictionary<string, object>>).ToList();

    private static IReadOnlyDictionary<string, string> Generate() =>
        KubernetesManifests.FromAspireManifest(Manifest, new KubernetesOptions { GenerateSecret = length => new string('s', length - 1) + "/" });

    [Fact]
    public void Engines_with_volumes_become_stateful_sets_and_services_become_deployments()
    {
        var files = Generate();
        Assert.Equal(["api.yaml", "db.yaml", "kustomization.yaml", "tokage-parameters.yaml"], files.Keys.Order());

        var db = Documents(files["db.yaml"]);
        Assert.Equal(["StatefulSet", "Service", "Secret"], db.Select(d => (string)d["kind"]));
        var api = Documents(files["api.yaml"]);
        Assert.Equal(["Deployment", "Service", "PodDisruptionBudget", "Secret"], api.Select(d => (string)d["kind"]));
    }

    [Fact]
    public void Selectors_match_the_pod_labels()
    {
        foreach (var document in Documents(Generate()["api.yaml"]).Where(d => (string)d["kind"] is "Deployment" or "Service"))
        {
            var spec = (Dictionary<object, object>)document["spec"];
            var selector = document["kind"] is "Deployment"
                ? (Dictionary<object, object>)((Dictionary<object, object>)spec["selector"])["matchLabels"]
                : (Dictionary<object, object>)spec["selector"];
            Assert.Equal("api", selector[KubernetesManifests.NameLabel]);
        }
    }

    [Fact]
    public void Expressions_become_cluster_names_ports_and_secrets()
    {
        var api = Documents(Generate()["api.yaml"]);
        var secret = (Dictionary<object, object>)api.Single(d => (string)d["kind"] == "Secret")["stringData"];
        var password = new string('s', 21) + "/";

        // Connection strings carry the password, so they live in the Secret, resolved through the value chain.
        Assert.Equal($"Host=db;Port=5432;Password={password};Database=tokage", secret["ConnectionStrings__tokage"]);
        Assert.Equal($"pg://:{Uri.EscapeDataString(password)}@db", secret["URI"]);

        var deployment = api.Single(d => (string)d["kind"] == "Deployment");
        var container = (Dictionary<object, object>)((List<object>)((Dictionary<object, object>)((Dictionary<object, object>)((Dictionary<object, object>)deployment["spec"])["template"])["spec"])["containers"]).Single();
        var env = ((List<object>)container["env"]).Cast<Dictionary<object, object>>().ToDictionary(e => (string)e["name"]);
        Assert.Equal("8001", env["PORT"]["value"]);
        Assert.Equal("true", env["FLAG"]["value"]); // a string, not a YAML boolean
        Assert.Contains("secretKeyRef", ((Dictionary<object, object>)env["ConnectionStrings__tokage"]["valueFrom"]).Keys);

        var service = api.Single(d => (string)d["kind"] == "Service");
        var port = (Dictionary<object, object>)((List<object>)((Dictionary<object, object>)service["spec"])["ports"]).Single();
        Assert.Equal(("8080", "8001"), ((string)port["port"], (string)port["targetPort"]));
    }

    [Fact]
    public void A_generated_parameter_is_generated_once_and_shared()
    {
        var files = Generate();
        var parameters = (Dictionary<object, object>)Documents(files["tokage-parameters.yaml"]).Single()["stringData"];
        var dbSecret = (Dictionary<object, object>)Documents(files["db.yaml"]).Single(d => (string)d["kind"] == "Secret")["stringData"];
        Assert.Equal(parameters["db-password"], dbSecret["POSTGRES_PASSWORD"]);
    }

    [Fact]
    public void An_unknown_reference_is_a_clear_error()
    {
        var error = Assert.Throws<FormatException>(() => KubernetesManifests.FromAspireManifest(
            """{"resources":{"api":{"type":"project.v0","env":{"X":"{nowhere.connectionString}"}}}}"""));
        Assert.Contains("nowhere", error.Message);
    }
}
