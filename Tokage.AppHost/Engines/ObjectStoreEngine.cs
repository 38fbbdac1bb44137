using Aspire.Hosting.ApplicationModel;

namespace Tokage.AppHost.Engines;

/// <summary>MinIO (S3 API) in a container, for runs with a container runtime.</summary>
public sealed class MinioResource(string name, ParameterResource user, ParameterResource password)
    : ContainerResource(name), IResourceWithConnectionString
{
    public const string ApiEndpointName = "http";
    public const string Bucket = "tokage";

    public EndpointReference ApiEndpoint => new(this, ApiEndpointName);

    public ParameterResource User { get; } = user;

    public ParameterResource Password { get; } = password;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Provider=S3;ServiceUrl={ApiEndpoint.Property(EndpointProperty.Url)};Bucket={Bucket};AccessKey={User};SecretKey={Password};ForcePathStyle=true");
}

/// <summary>A directory on this machine standing in for S3 (Parquet archive, audit records) on local runs.</summary>
public sealed class FileSystemObjectStoreResource(string name, string root) : Resource(name), IResourceWithConnectionString
{
    public string Root { get; } = root;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"Provider=FileSystem;Path={Root}");
}

public static class ObjectStoreEngine
{
    public const string MinioImage = "minio/minio";
    public const string MinioTag = "RELEASE.2025-09-07T16-13-09Z";

    public static IResourceBuilder<IResourceWithConnectionString> AddObjectStoreEngine(
        this IDistributedApplicationBuilder builder, string name, EngineProvider provider, LocalState state)
    {
        if (builder.HasConfiguredConnectionString(name))
        {
            return builder.AddConnectionString(name);
        }

        if (provider.Kind == EngineProviderKind.Containers)
        {
            var user = builder.AddParameter($"{name}-user", "tokage", publishValueAsDefault: true);
            var password = builder.AddGeneratedPassword($"{name}-password");
            return builder.AddResource(new MinioResource(name, user.Resource, password.Resource))
                .WithImage(MinioImage, MinioTag)
                .WithHttpEndpoint(targetPort: 9000, name: MinioResource.ApiEndpointName)
                .WithArgs("server", "/data")
                .WithEnvironment("MINIO_ROOT_USER", user)
                .WithEnvironment("MINIO_ROOT_PASSWORD", password)
                .WithVolume($"{name}-data", "/data")
                .WithEnvironment(EngineResourceProperties.ProviderEnvironmentVariable, provider.DisplayName)
                .WithHttpHealthCheck("/minio/health/live");
        }

        var store = builder.AddResource(new FileSystemObjectStoreResource(name, state.Directory(name)))
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "ObjectStore",
                State = KnownResourceStates.Starting,
                Properties = [new(EngineResourceProperties.Provider, $"filesystem under {state.Root} ({provider.Reason})")],
            });

        // No process to start: the store is running once its directory exists, ready once it takes a write.
        builder.Eventing.Subscribe<InitializeResourceEvent>(store.Resource, async (@event, _) =>
        {
            Directory.CreateDirectory(store.Resource.Root);
            await @event.Notifications.PublishUpdateAsync(store.Resource, snapshot => snapshot with
            {
                State = KnownResourceStates.Running,
                StartTimeStamp = DateTime.UtcNow,
            });
        });

        return store.WithConnectionHealthCheck(async (_, cancellationToken) =>
        {
            var probe = Path.Combine(store.Resource.Root, ".apphost-probe");
            await File.WriteAllTextAsync(probe, "ok", cancellationToken);
            File.Delete(probe);
        });
    }
}
