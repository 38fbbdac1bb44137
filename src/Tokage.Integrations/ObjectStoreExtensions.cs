using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tokage.Integrations;
using Tokage.Integrations.ObjectStore;

namespace Microsoft.Extensions.Hosting;

public sealed class ObjectStoreSettings : IntegrationSettings;

/// <summary>
/// The object store (Parquet archive, audit records): <c>Provider=FileSystem;Path=/abs/dir</c> locally,
/// <c>Provider=S3;ServiceUrl=…;Bucket=…;AccessKey=…;SecretKey=…</c> against S3 or MinIO.
/// </summary>
public sealed record ObjectStoreConnection(string Provider, IReadOnlyDictionary<string, string> Values)
{
    public const string FileSystem = "FileSystem";
    public const string S3 = "S3";

    public static ObjectStoreConnection Parse(string connectionString)
    {
        var values = KeyValueConnectionString.Parse(connectionString);
        var provider = values.Required("Provider", "Object store");
        if (provider.Equals(FileSystem, StringComparison.OrdinalIgnoreCase))
        {
            values.Required("Path", "Object store");
            return new(FileSystem, values);
        }

        if (provider.Equals(S3, StringComparison.OrdinalIgnoreCase))
        {
            values.Required("Bucket", "Object store");
            return new(S3, values);
        }

        throw new FormatException($"Object store provider '{provider}' is not one of FileSystem, S3.");
    }
}

public static class ObjectStoreExtensions
{
    public static ObjectStoreConnection AddObjectStoreClient(this IHostApplicationBuilder builder, string connectionName, Action<ObjectStoreSettings>? configure = null)
    {
        var settings = IntegrationConfiguration.Bind(builder.Configuration, "ObjectStore", connectionName, configure);
        var connection = ObjectStoreConnection.Parse(settings.ConnectionString!);
        builder.Services.AddKeyedSingleton(connectionName, connection);
        builder.Services.AddKeyedSingleton<IObjectStore>(connectionName, (_, _) => connection.Provider == ObjectStoreConnection.FileSystem
            ? new FileSystemObjectStore(connection.Values["Path"])
            : S3ObjectStore.Create(connection.Values));

        if (!settings.DisableHealthChecks && connection.Provider == ObjectStoreConnection.FileSystem)
        {
            builder.Services.AddHealthChecks().AddCheck(
                $"objectstore-{connectionName}",
                new FileSystemStoreHealthCheck(connection.Values["Path"]),
                tags: ["ready"],
                timeout: settings.HealthCheckTimeout);
        }

        return connection;
    }

    /// <summary>Ready means the store's root exists and takes a write.</summary>
    private sealed class FileSystemStoreHealthCheck(string root) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                var probe = Path.Combine(root, $".probe-{Environment.ProcessId}");
                await File.WriteAllTextAsync(probe, "ok", cancellationToken);
                File.Delete(probe);
                return HealthCheckResult.Healthy();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return HealthCheckResult.Unhealthy($"Object store root '{root}' is not writable.", ex);
            }
        }
    }
}
