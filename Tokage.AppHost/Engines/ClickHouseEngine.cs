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

public static class ClickHouseEngine
{
    public const string ServerImage = "clickhouse/clickhouse-server";
    public const string ServerTag = "25.8";

    /// <summary>
    /// The analytics store: the configured connection string, a ClickHouse server container, or the
    /// chDB-backed ClickHouse-local host (<c>local/ClickHouseLocal</c>) as a project the AppHost runs.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddClickHouseEngine(
        this IDistributedApplicationBuilder builder, string name, EngineProvider provider, LocalState state)
    {
        if (builder.HasConfiguredConnectionString(name))
        {
            return builder.AddConnectionString(name);
        }

        if (provider.Kind == EngineProviderKind.Containers)
        {
            var password = builder.AddGeneratedPassword($"{name}-password");
            return builder.AddResource(new ClickHouseServerResource(name, password.Resource))
                .WithImage(ServerImage, ServerTag)
                .WithHttpEndpoint(targetPort: 8123, name: ClickHouseServerResource.HttpEndpointName)
                .WithEnvironment("CLICKHOUSE_USER", ClickHouseServerResource.UserName)
                .WithEnvironment("CLICKHOUSE_PASSWORD", password)
                .WithEnvironment("CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT", "1")
                .WithVolume($"{name}-data", "/var/lib/clickhouse")
                .WithEnvironment(EngineResourceProperties.ProviderEnvironmentVariable, provider.DisplayName)
                .WithHttpHealthCheck("/ping");
        }

        var localPassword = builder.AddParameter($"{name}-password", state.Secret($"{name}-password"), secret: true);
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
            .WithEnvironment(EngineResourceProperties.ProviderEnvironmentVariable, $"{provider.DisplayName} ({provider.Reason})")
            .WithHttpHealthCheck("/ping");

        var connectionString = ReferenceExpression.Create(
            $"Host={endpoint.Property(EndpointProperty.Host)};Port={endpoint.Property(EndpointProperty.Port)};Protocol=http;Username={ClickHouseServerResource.UserName};Password={localPassword.Resource}");
        // The connection turns ready with the host, whose /ping check already proves it answers.
        return builder.AddConnection(name, host, connectionString, provider, "ClickHouse");
    }
}
