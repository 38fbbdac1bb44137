using Aspire.Hosting.Pipelines;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tokage.Deploy;

namespace Tokage.AppHost.Publishing;

// Aspire 13 marks its pipeline API experimental; registering a publish step is the supported way to
// add an output format (Aspire.Hosting.Kubernetes is not available here).
#pragma warning disable ASPIREPIPELINES001

/// <summary>
/// <c>--publisher kubernetes --output-path DIR</c>: writes the Aspire manifest (DIR/aspire-manifest.json)
/// and Kubernetes objects generated from it (DIR/kubernetes/*.yaml, with a kustomization).
/// </summary>
public static class KubernetesPublishing
{
    public const string PublisherName = "kubernetes";
    public const string StepName = "publish-kubernetes";
    private const string ManifestStepName = "publish-manifest";

    public static IDistributedApplicationBuilder AddKubernetesPublishing(this IDistributedApplicationBuilder builder)
    {
        // Without a step, Aspire runs every pipeline step (image builds and container checks among them);
        // the kubernetes publisher means this step and what it depends on.
        if (builder.ExecutionContext.PublisherName == PublisherName && string.IsNullOrEmpty(builder.Configuration["Pipeline:Step"]))
        {
            builder.Configuration["Pipeline:Step"] = StepName;
        }

        builder.Pipeline.AddStep(StepName, async context =>
        {
            var outputPath = context.Services.GetRequiredService<IOptions<PipelineOptions>>().Value.OutputPath
                ?? throw new InvalidOperationException("--output-path is required for the kubernetes publisher.");
            var manifest = await File.ReadAllTextAsync(Path.Combine(outputPath, "aspire-manifest.json"), context.CancellationToken);
            var configuration = context.Services.GetRequiredService<IConfiguration>();
            var directory = Directory.CreateDirectory(Path.Combine(outputPath, "kubernetes"));
            var parametersFile = Path.Combine(directory.FullName, $"{KubernetesManifests.ParametersSecret}.yaml");
            var defaults = new KubernetesOptions();
            var options = defaults with
            {
                ImagePrefix = configuration["Tokage:Kubernetes:ImagePrefix"] ?? defaults.ImagePrefix,
                ImageTag = configuration["Tokage:Kubernetes:ImageTag"] ?? defaults.ImageTag,
                EngineReplicas = new Dictionary<string, int> { ["redpanda"] = Engines.EventLogEngine.ProductionBrokers },
                Jobs = new HashSet<string> { "database-migrator" },
                // Publishing again keeps the passwords a running deployment already has.
                ExistingParameters = File.Exists(parametersFile)
                    ? KubernetesManifests.ReadParameters(await File.ReadAllTextAsync(parametersFile, context.CancellationToken))
                    : new Dictionary<string, string>(),
            };

            foreach (var (file, yaml) in KubernetesManifests.FromAspireManifest(manifest, options))
            {
                OwnerOnlyFile.Write(Path.Combine(directory.FullName, file), yaml);
            }

            context.Logger.LogInformation("Kubernetes manifests written to {Directory} (kubectl apply -k {Directory})", directory.FullName, directory.FullName);
        }, dependsOn: ManifestStepName);

        return builder;
    }
}
