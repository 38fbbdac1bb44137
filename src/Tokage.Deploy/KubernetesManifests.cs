using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Serialization;

namespace Tokage.Deploy;

/// <summary>Options for <see cref="KubernetesManifests"/>.</summary>
public sealed record KubernetesOptions
{
    /// <summary>Images of the .NET services are <c>{ImagePrefix}{resource}:{ImageTag}</c>.</summary>
    public string ImagePrefix { get; init; } = "tokage/";

    public string ImageTag { get; init; } = "latest";

    /// <summary>Size of each persistent volume claim the stateful engines get.</summary>
    public string VolumeSize { get; init; } = "10Gi";

    /// <summary>Replicas of each service (a project): two, so a node drain or a rollout never takes one away.</summary>
    public int ServiceReplicas { get; init; } = 2;

    /// <summary>Replicas of stateful engines that form a cluster of their own (e.g. Redpanda: 3); the rest run one.</summary>
    public IReadOnlyDictionary<string, int> EngineReplicas { get; init; } = new Dictionary<string, int>();

    /// <summary>
    /// Projects that run to completion once per rollout (the database migrator): a Job, retried on failure, instead of a
    /// Deployment. The services that need its work stay not-ready until it has run.
    /// </summary>
    public IReadOnlySet<string> Jobs { get; init; } = new HashSet<string>();

    /// <summary>What each service's pod asks of a node, and the most memory it may use.</summary>
    public string ServiceCpuRequest { get; init; } = "100m";

    public string ServiceMemoryRequest { get; init; } = "256Mi";

    public string ServiceMemoryLimit { get; init; } = "1Gi";

    /// <summary>What each engine's pod asks of a node.</summary>
    public string EngineCpuRequest { get; init; } = "250m";

    public string EngineMemoryRequest { get; init; } = "512Mi";

    /// <summary>
    /// Parameter values of an earlier publish (its <c>tokage-parameters</c> Secret): kept, so publishing again never
    /// changes a password a running deployment already uses. A value still <c>REQUIRED</c> is asked for again.
    /// </summary>
    public IReadOnlyDictionary<string, string> ExistingParameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Makes generated secrets (passwords the manifest asks to generate); tests pass a fixed one.</summary>
    public Func<int, string> GenerateSecret { get; init; } = length =>
        RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", length);
}

/// <summary>
/// Generates Kubernetes objects from an Aspire manifest: a Deployment (two replicas, readiness on <c>/health</c>,
/// liveness on <c>/alive</c>, resource requests), a PodDisruptionBudget and a Service per service; a StatefulSet
/// (with volume claims, its pod name in <c>POD_NAME</c>) and a headless Service per engine that keeps data; and
/// Secrets for every value that carries a secret parameter. Labels and selectors are <c>app.kubernetes.io/name</c>.
/// Binding expressions become in-cluster DNS names and ports; parameters without a value and without a
/// generate rule must be supplied by the operator and are left as <c>REQUIRED</c> in the parameters Secret.
/// </summary>
public sealed partial class KubernetesManifests
{
    public const string NameLabel = "app.kubernetes.io/name";
    public const string PartOfLabel = "app.kubernetes.io/part-of";
    public const string ParametersSecret = "tokage-parameters";

    private readonly JsonObject _resources;
    private readonly KubernetesOptions _options;
    private readonly Dictionary<string, string> _parameterValues = [];

    private KubernetesManifests(JsonObject resources, KubernetesOptions options)
    {
        _resources = resources;
        _options = options;
    }

    /// <summary>The values of a parameters Secret this generator wrote (to pass as <see cref="KubernetesOptions.ExistingParameters"/>).</summary>
    public static IReadOnlyDictionary<string, string> ReadParameters(string parametersYaml)
    {
        var secret = new DeserializerBuilder().Build().Deserialize<Dictionary<string, object>>(parametersYaml);
        return secret.TryGetValue("stringData", out var data) && data is Dictionary<object, object> values
            ? values.ToDictionary(kv => (string)kv.Key, kv => Convert.ToString(kv.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "")
            : new Dictionary<string, string>();
    }

    /// <summary>File name → YAML (multi-document) for every workload, plus the parameters Secret and a kustomization.</summary>
    public static IReadOnlyDictionary<string, string> FromAspireManifest(string manifestJson, KubernetesOptions? options = null)
    {
        var manifest = JsonNode.Parse(manifestJson)?.AsObject() ?? throw new FormatException("The Aspire manifest is not a JSON object.");
        var resources = manifest["resources"]?.AsObject() ?? throw new FormatException("The Aspire manifest has no 'resources'.");
        return new KubernetesManifests(resources, options ?? new()).Generate();
    }

    private IReadOnlyDictionary<string, string> Generate()
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, node) in _resources)
        {
            var resource = node!.AsObject();
            var documents = (string?)resource["type"] switch
            {
                "project.v0" => Workload(name, resource, image: $"{_options.ImagePrefix}{name}:{_options.ImageTag}", service: true),
                "container.v0" or "container.v1" => Workload(name, resource, image: (string)resource["image"]!, service: false),
                _ => null, // parameters, values and annotated strings are folded into the workloads that use them
            };
            if (documents is not null)
            {
                files[$"{name}.yaml"] = Yaml(documents);
            }
        }

        files[$"{ParametersSecret}.yaml"] = Yaml([Secret(ParametersSecret, new SortedDictionary<string, string>(_parameterValues))]);
        files["kustomization.yaml"] = Yaml([new Dictionary<string, object>
        {
            ["apiVersion"] = "kustomize.config.k8s.io/v1beta1",
            ["kind"] = "Kustomization",
            ["resources"] = files.Keys.Where(f => f != "kustomization.yaml").ToList(),
        }]);
        return files;
    }

    private List<object> Workload(string name, JsonObject resource, string image, bool service)
    {
        var bindings = resource["bindings"]?.AsObject() ?? [];
        var volumes = resource["volumes"]?.AsArray().Select(v => v!.AsObject()).ToList() ?? [];
        var environment = new List<object>();
        var secretEnvironment = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in resource["env"]?.AsObject() ?? [])
        {
            var (resolved, secret) = Resolve((string)value!);
            if (secret)
            {
                secretEnvironment[key] = resolved;
                environment.Add(new Dictionary<string, object>
                {
                    ["name"] = key,
                    ["valueFrom"] = new Dictionary<string, object>
                    {
                        ["secretKeyRef"] = new Dictionary<string, object> { ["name"] = $"{name}-env", ["key"] = key },
                    },
                });
            }
            else
            {
                environment.Add(new Dictionary<string, object> { ["name"] = key, ["value"] = resolved });
            }
        }

        var container = new Dictionary<string, object> { ["name"] = name, ["image"] = image };
        if ((string?)resource["entrypoint"] is { } entrypoint)
        {
            container["command"] = new List<object> { entrypoint };
        }

        if (resource["args"]?.AsArray() is { Count: > 0 } args)
        {
            container["args"] = args.Select(a => (object)Resolve((string)a!).Value).ToList();
        }

        if (environment.Count > 0)
        {
            container["env"] = environment;
        }

        var ports = bindings.Select(b => new Dictionary<string, object>
        {
            ["name"] = PortName(b.Key),
            ["containerPort"] = TargetPort(b.Value!.AsObject()),
        }).ToList<object>();
        if (ports.Count > 0)
        {
            container["ports"] = ports;
        }

        if (volumes.Count > 0)
        {
            container["volumeMounts"] = volumes.Select(v => (object)new Dictionary<string, object>
            {
                ["name"] = (string)v["name"]!,
                ["mountPath"] = (string)v["target"]!,
            }).ToList();
        }

        var stateful = volumes.Count > 0;
        container["resources"] = service
            ? new Dictionary<string, object>
            {
                ["requests"] = new Dictionary<string, object> { ["cpu"] = _options.ServiceCpuRequest, ["memory"] = _options.ServiceMemoryRequest },
                ["limits"] = new Dictionary<string, object> { ["memory"] = _options.ServiceMemoryLimit },
            }
            : new Dictionary<string, object>
            {
                ["requests"] = new Dictionary<string, object> { ["cpu"] = _options.EngineCpuRequest, ["memory"] = _options.EngineMemoryRequest },
            };
        if (service && bindings.ContainsKey("http"))
        {
            // Ready once its engines answer and its migrations ran; alive while the process serves at all.
            var http = TargetPort(bindings["http"]!.AsObject());
            container["readinessProbe"] = Probe("/health", http, periodSeconds: 5, failureThreshold: 3);
            container["livenessProbe"] = Probe("/alive", http, periodSeconds: 10, failureThreshold: 6);
        }

        if (stateful)
        {
            // A clustered engine advertises its own pod's address (e.g. $(POD_NAME).redpanda).
            environment.Insert(0, new Dictionary<string, object>
            {
                ["name"] = "POD_NAME",
                ["valueFrom"] = new Dictionary<string, object> { ["fieldRef"] = new Dictionary<string, object> { ["fieldPath"] = "metadata.name" } },
            });
            container["env"] = environment;
        }

        var labels = Labels(name);
        var podSpec = new Dictionary<string, object>
        {
            ["metadata"] = new Dictionary<string, object> { ["labels"] = labels },
            ["spec"] = new Dictionary<string, object> { ["containers"] = new List<object> { container } },
        };
        if (_options.Jobs.Contains(name))
        {
            return Job(name, labels, podSpec, secretEnvironment);
        }
        var replicas = service ? _options.ServiceReplicas : _options.EngineReplicas.GetValueOrDefault(name, 1);
        var spec = new Dictionary<string, object>
        {
            ["replicas"] = replicas,
            ["selector"] = new Dictionary<string, object> { ["matchLabels"] = Selector(name) },
            ["template"] = podSpec,
        };

        if (stateful)
        {
            // Pods start together: a cluster's members must see each other before any is ready.
            spec["podManagementPolicy"] = "Parallel";
            spec["serviceName"] = name;
            spec["volumeClaimTemplates"] = volumes.Select(v => (object)new Dictionary<string, object>
            {
                ["metadata"] = new Dictionary<string, object> { ["name"] = (string)v["name"]! },
                ["spec"] = new Dictionary<string, object>
                {
                    ["accessModes"] = new List<object> { "ReadWriteOnce" },
                    ["resources"] = new Dictionary<string, object>
                    {
                        ["requests"] = new Dictionary<string, object> { ["storage"] = _options.VolumeSize },
                    },
                },
            }).ToList();
        }

        var documents = new List<object>
        {
            new Dictionary<string, object>
            {
                ["apiVersion"] = "apps/v1",
                ["kind"] = stateful ? "StatefulSet" : "Deployment",
                ["metadata"] = new Dictionary<string, object> { ["name"] = name, ["labels"] = labels },
                ["spec"] = spec,
            },
        };

        if (bindings.Count > 0)
        {
            var serviceSpec = new Dictionary<string, object>
            {
                ["selector"] = Selector(name),
                ["ports"] = bindings.Select(b => (object)new Dictionary<string, object>
                {
                    ["name"] = PortName(b.Key),
                    ["port"] = Port(b.Value!.AsObject()),
                    ["targetPort"] = TargetPort(b.Value!.AsObject()),
                }).ToList(),
            };
            if (stateful)
            {
                // Headless: each pod has its own name (redpanda-0.redpanda), known before it is ready.
                serviceSpec["clusterIP"] = "None";
                serviceSpec["publishNotReadyAddresses"] = true;
            }

            documents.Add(new Dictionary<string, object>
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Service",
                ["metadata"] = new Dictionary<string, object> { ["name"] = name, ["labels"] = labels },
                ["spec"] = serviceSpec,
            });
        }

        if (replicas > 1)
        {
            documents.Add(new Dictionary<string, object>
            {
                ["apiVersion"] = "policy/v1",
                ["kind"] = "PodDisruptionBudget",
                ["metadata"] = new Dictionary<string, object> { ["name"] = name, ["labels"] = labels },
                ["spec"] = new Dictionary<string, object>
                {
                    // A cluster of three keeps its quorum; a pair of services keeps one serving.
                    ["maxUnavailable"] = 1,
                    ["selector"] = new Dictionary<string, object> { ["matchLabels"] = Selector(name) },
                },
            });
        }

        if (secretEnvironment.Count > 0)
        {
            documents.Add(Secret($"{name}-env", secretEnvironment));
        }

        return documents;
    }

    /// <summary>
    /// A run-to-completion project: retried on failure, removed a while after it succeeds so that the next
    /// <c>kubectl apply -k</c> (a rollout) runs it again rather than failing on an immutable finished Job.
    /// </summary>
    private static List<object> Job(string name, Dictionary<string, object> labels, Dictionary<string, object> podSpec, SortedDictionary<string, string> secretEnvironment)
    {
        ((Dictionary<string, object>)podSpec["spec"])["restartPolicy"] = "OnFailure";
        var documents = new List<object>
        {
            new Dictionary<string, object>
            {
                ["apiVersion"] = "batch/v1",
                ["kind"] = "Job",
                ["metadata"] = new Dictionary<string, object> { ["name"] = name, ["labels"] = labels },
                ["spec"] = new Dictionary<string, object>
                {
                    ["backoffLimit"] = 10,
                    ["ttlSecondsAfterFinished"] = 600,
                    ["template"] = podSpec,
                },
            },
        };
        if (secretEnvironment.Count > 0)
        {
            documents.Add(Secret($"{name}-env", secretEnvironment));
        }

        return documents;
    }

    private static Dictionary<string, object> Probe(string path, int port, int periodSeconds, int failureThreshold) => new()
    {
        ["httpGet"] = new Dictionary<string, object> { ["path"] = path, ["port"] = port },
        ["periodSeconds"] = periodSeconds,
        ["failureThreshold"] = failureThreshold,
    };

    private static Dictionary<string, object> Secret(string name, IDictionary<string, string> values) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Secret",
        ["metadata"] = new Dictionary<string, object> { ["name"] = name, ["labels"] = new Dictionary<string, object> { [PartOfLabel] = "tokage" } },
        ["type"] = "Opaque",
        ["stringData"] = values.ToDictionary(kv => kv.Key, kv => (object)kv.Value),
    };

    private static Dictionary<string, object> Labels(string name) => new(Selector(name))
    {
        [PartOfLabel] = "tokage",
    };

    /// <summary>What Deployments, StatefulSets and Services select their pods by.</summary>
    private static Dictionary<string, object> Selector(string name) => new() { [NameLabel] = name };

    /// <summary>Kubernetes port names are at most 15 lowercase alphanumerics and dashes.</summary>
    private static string PortName(string binding) => binding.Length <= 15 ? binding : binding[..15];

    private static int TargetPort(JsonObject binding) => (int?)binding["targetPort"] ?? (int?)binding["port"] ?? 8080;

    private static int Port(JsonObject binding) => (int?)binding["port"] ?? TargetPort(binding);

    [GeneratedRegex(@"\{([^{}]+)\}")]
    private static partial Regex Expression();

    /// <summary>Replaces every <c>{…}</c> expression; says whether a secret parameter went into the value.</summary>
    private (string Value, bool Secret) Resolve(string template)
    {
        var secret = false;
        var value = Expression().Replace(template, match =>
        {
            var (resolved, isSecret) = ResolveExpression(match.Groups[1].Value);
            secret |= isSecret;
            return resolved;
        });
        return (value, secret);
    }

    private (string Value, bool Secret) ResolveExpression(string expression)
    {
        var parts = expression.Split('.');
        var resource = _resources[parts[0]]?.AsObject()
            ?? throw new FormatException($"Expression '{{{expression}}}' names no resource of the manifest.");
        switch (parts[1..])
        {
            case ["connectionString"]:
                return Resolve((string?)resource["connectionString"] ?? "");
            case ["value"] when (string?)resource["type"] == "annotated.string":
                var (inner, innerSecret) = Resolve((string)resource["value"]!);
                return ((string?)resource["filter"] == "uri" ? Uri.EscapeDataString(inner) : inner, innerSecret);
            case ["value"]:
                return ParameterValue(parts[0], resource);
            case ["bindings", var bindingName, var property]:
                var binding = resource["bindings"]?[bindingName]?.AsObject()
                    ?? throw new FormatException($"'{parts[0]}' has no binding '{bindingName}'.");
                return (property switch
                {
                    "host" => parts[0],
                    "port" => Port(binding).ToString(),
                    "targetPort" => TargetPort(binding).ToString(),
                    "scheme" => (string)binding["scheme"]!,
                    "url" => $"{(string)binding["scheme"]!}://{parts[0]}:{Port(binding)}",
                    _ => throw new FormatException($"Binding property '{property}' is not supported."),
                }, false);
            default:
                throw new FormatException($"Expression '{{{expression}}}' is not supported.");
        }
    }

    /// <summary>
    /// Parameter values live in one Secret. Generated inputs are generated here, once per parameter;
    /// those with a default use it; the rest must be filled in by whoever deploys.
    /// </summary>
    private (string Value, bool Secret) ParameterValue(string name, JsonObject parameter)
    {
        var input = parameter["inputs"]?["value"]?.AsObject();
        var secret = (bool?)input?["secret"] ?? false;
        if (!_parameterValues.TryGetValue(name, out var value))
        {
            value = _options.ExistingParameters.TryGetValue(name, out var kept) && kept != "REQUIRED" ? kept
                : input?["default"]?["generate"]?["minLength"] is { } length
                ? _options.GenerateSecret((int)length)
                : (string?)input?["default"]?["value"] ?? "REQUIRED";
            _parameterValues[name] = value;
        }

        return (value, secret);
    }

    private static string Yaml(IEnumerable<object> documents)
    {
        // Quoted where needed: Kubernetes wants "true" and "6379" in env values as strings, not YAML scalars.
        var serializer = new SerializerBuilder().DisableAliases().WithQuotingNecessaryStrings().Build();
        return string.Join("---\n", documents.Select(serializer.Serialize));
    }
}
