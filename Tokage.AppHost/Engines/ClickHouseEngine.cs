// WithoutHttpsCertificate() is marked experimental (ASPIRECERTIFICATES001).
#pragma warning disable ASPIRECERTIFICATES001
using Aspire.Hosting.ApplicationModel;

namespace Tokage.AppHost.Engines;

/// <summary>ClickHouse server in a container (the same HTTP interface the local host serves).</summary>
public sealed class ClickHouseServerResource(string name, ParameterResource password)
    : ContainerResource(name), IResourceWithConnectionString
{
    public const string HttpEndpointName = "http";
    public const string UserName = "default";

    public EndpointReference HttpEndpoint => new(this, HttpEndpointName);

    public ParameterResource Password { get; } = password;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={HttpEndpoint.Property(EndpointProperty.Host)};Port={HttpEndpoint.Property(EndpointProperty.Port)};Protocol=http;Username={UserName};Password={Password}");
}

/// <summary>
/// The analytics store's connections: the owner's (the processor migrates and writes with it, billing writes statements)
/// and the reader's (the query API), which may only read.
/// </summary>
public sealed record ClickHouseConnections(IResourceBuilder<IResourceWithConnectionString> Owner, IResourceBuilder<IResourceWithConnectionString> Reader);

public static class ClickHouseEngine
{
    public const string ReaderUser = "tokage_reader";

    public const string ServerImage = "clickhouse/clickhouse-server";
    public const string ServerTag = "25.8";

    /// <summary>
    /// The analytics store: the configured connection string, a ClickHouse server container, or the
    /// chDB-backed ClickHouse-local host (<c>local/ClickHouseLocal</c>) as a project the AppHost runs.
    /// </summary>
    /// <remarks>
    /// The reader is the host's read-only user locally; on a server of one's own, <c>ConnectionStrings:{name}-reader</c>
    /// names a user created as the README shows, and without it (and in containers) the query API reads as the owner.
    /// </remarks>
    public static ClickHouseConnections AddClickHouseEngine(
        this IDistributedApplicationBuilder builder, string name, EngineProvider provider, LocalState state)
    {
        if (builder.HasConfiguredConnectionString(name))
        {
            var configured = builder.AddConnectionString(name);
            return new(configured, builder.HasConfiguredConnectionString($"{name}-reader") ? builder.AddConnectionString($"{name}-reader") : configured);
        }

        if (provider.Kind == EngineProviderKind.Containers)
        {
            var password = builder.AddGeneratedPassword($"{name}-password");
            var server = builder.AddResource(new ClickHouseServerResource(name, password.Resource))
                .WithImage(ServerImage, ServerTag)
                .WithHttpEndpoint(targetPort: 8123, name: ClickHouseServerResource.HttpEndpointName)
                .WithEnvironment("CLICKHOUSE_USER", ClickHouseServerResource.UserName)
                .WithEnvironment("CLICKHOUSE_PASSWORD", password)
                .WithEnvironment("CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT", "1")
                .WithVolume($"{name}-data", "/var/lib/clickhouse")
                .WithEnvironment(EngineResourceProperties.ProviderEnvironmentVariable, provider.DisplayName)
                .WithHttpHealthCheck("/ping");
            return new(server, server);
        }

        var localPassword = builder.AddParameter($"{name}-password", state.Secret($"{name}-password"), secret: true);
        var readerPassword = builder.AddParameter($"{name}-reader-password", state.Secret($"{name}-reader-password"), secret: true);
        var host = builder.AddProject<Projects.ClickHouseLocal>($"{name}-host")
            .WithoutHttpsCertificate()
            .WithHttpEndpoint(name: "http");
        var endpoint = host.GetEndpoint("http");
        host.WithArgs(context =>
            {
                context.Args.Add("--http-port");
                context.Args.Add(endpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add("--data-path");
                context.Args.Add(Path.Combine(state.Root, name));
            })
            // In the environment (its configuration binds ClickHouseLocal:Password), never on the command line.
            .WithEnvironment("ClickHouseLocal__Password", localPassword)
            .WithEnvironment("ClickHouseLocal__ReadOnlyUser", ReaderUser)
            .WithEnvironment("ClickHouseLocal__ReadOnlyPassword", readerPassword)
            .WithEnvironment(EngineResourceProperties.ProviderEnvironmentVariable, $"{provider.DisplayName} ({provider.Reason})")
            .WithHttpHealthCheck("/ping");

        var connectionString = ReferenceExpression.Create(
            $"Host={endpoint.Property(EndpointProperty.Host)};Port={endpoint.Property(EndpointProperty.Port)};Protocol=http;Username={ClickHouseServerResource.UserName};Password={localPassword.Resource}");
        var readerConnectionString = ReferenceExpression.Create(
            $"Host={endpoint.Property(EndpointProperty.Host)};Port={endpoint.Property(EndpointProperty.Port)};Protocol=http;Username={ReaderUser};Password={readerPassword.Resource}");
        // The connections turn ready with the host, whose /ping check already proves it answers.
        return new(
            builder.AddConnection(name, host, connectionString, provider, "ClickHouse"),
            builder.AddConnection($"{name}-reader", host, readerConnectionString, provider, "ClickHouse"));
    }
}
