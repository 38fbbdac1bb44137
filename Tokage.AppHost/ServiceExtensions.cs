// WithoutHttpsCertificate() is marked experimental (ASPIRECERTIFICATES001).
#pragma warning disable ASPIRECERTIFICATES001
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Lifecycle;
using Microsoft.Extensions.Logging;
using Tokage.AppHost.Engines;

namespace Tokage.AppHost;

/// <summary>The engine provider chosen for this run, and where local engines keep their data.</summary>
public sealed record EngineSetup(EngineProvider Provider, LocalState State);

/// <summary>A PostgreSQL login role the services run as, and its password (a shared secret of the migrator and those services).</summary>
public sealed record DatabaseRole(string Name, IResourceBuilder<ParameterResource> Password);

/// <summary>How the AppHost declares engines and services, so Program.cs reads as the system's picture.</summary>
public static class ServiceExtensions
{
    /// <summary>Chooses the engine provider once, and says which and why in the AppHost's log.</summary>
    public static EngineSetup ChooseEngineProvider(this IDistributedApplicationBuilder builder)
    {
        var provider = EngineProvider.Choose(builder.Configuration, builder.ExecutionContext.IsPublishMode, EngineProvider.ProbeContainerRuntime);
        builder.Eventing.Subscribe<BeforeStartEvent>((@event, _) =>
        {
            @event.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tokage.Engines").LogInformation(
                "Engines run as {Provider}: {Reason}. A ConnectionStrings:<name> entry replaces any engine by a server of your own.",
                provider.DisplayName, provider.Reason);
            return Task.CompletedTask;
        });
        return new(provider, LocalState.For(builder));
    }

    /// <summary>
    /// A Tokage service: an HTTP/1.1 endpoint (<c>http</c>) and an h2c gRPC endpoint (<c>grpc</c>), on the
    /// given fixed ports or on ports the AppHost picks, healthy when its <c>/health</c> says so.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddService<TProject>(
        this IDistributedApplicationBuilder builder, string name, int? httpPort = null, int? grpcPort = null)
        where TProject : IProjectMetadata, new() =>
        builder.AddProject<TProject>(name, launchProfileName: null)
            // Every endpoint is plain HTTP/h2c: without this, Aspire counts the project as a TLS user and, on a
            // machine without a trusted development certificate, starts with a warning and a red dashboard banner.
            .WithoutHttpsCertificate()
            .WithEndpoint("http", httpPort, http2: false)
            .WithEndpoint("grpc", grpcPort, http2: true)
            // Healthy means ready (its engines answer, its migrations ran), so WaitFor on a service waits for that.
            .WithHttpHealthCheck("/health", endpointName: "http");

    /// <summary>A web front end (the console): one HTTP/1.1 endpoint, healthy when its <c>/health</c> says so.</summary>
    public static IResourceBuilder<ProjectResource> AddWebFrontend<TProject>(this IDistributedApplicationBuilder builder, string name, int httpPort)
        where TProject : IProjectMetadata, new() =>
        builder.AddProject<TProject>(name, launchProfileName: null)
            .WithoutHttpsCertificate()
            .WithEndpoint("http", httpPort, http2: false)
            .WithExternalHttpEndpoints()
            .WithHttpHealthCheck("/health", endpointName: "http");

    /// <summary>
    /// Where the control plane's invitation and password-reset links point (the console), and where its mail goes: locally
    /// the console's own address and files in <c>.tokage/mail/</c>; in a deployment the console's public address (an input)
    /// and no mail drop (a deployment brings its mail provider).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithConsoleLinks(this IResourceBuilder<ProjectResource> controlPlane, IResourceBuilder<ProjectResource> console, EngineSetup engines)
    {
        var builder = controlPlane.ApplicationBuilder;
        if (builder.ExecutionContext.IsPublishMode)
        {
            return controlPlane.WithEnvironment("Tokage__ControlPlane__ConsoleUrl", builder.AddParameter("console-public-url"));
        }

        // Locally, a tenant's identity provider may be a test issuer on plain HTTP; a deployment requires HTTPS.
        console.WithEnvironment("Tokage__Console__AllowHttpIdentityProviders", "true");
        return controlPlane
            .WithEnvironment("Tokage__ControlPlane__ConsoleUrl", console.GetEndpoint("http"))
            .WithEnvironment("Tokage__ControlPlane__MailDropDirectory", engines.State.Directory("mail"))
            .WithEnvironment("Tokage__ControlPlane__AllowHttpIdentityProviders", "true");
    }

    /// <summary>
    /// Adds an endpoint and tells Kestrel about it through configuration (<c>Kestrel:Endpoints:{name}</c>):
    /// gRPC without TLS needs an HTTP/2-only listener, which a URL list alone cannot say.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithEndpoint(this IResourceBuilder<ProjectResource> service, string name, int? port, bool http2)
    {
        service.WithHttpEndpoint(port: port, name: name);
        if (http2)
        {
            service.WithEndpoint(name, endpoint => endpoint.Transport = "http2");
        }

        var endpoint = service.GetEndpoint(name);
        var host = service.ApplicationBuilder.ExecutionContext.IsPublishMode ? "+" : "localhost";
        return service.WithEnvironment(context =>
        {
            context.EnvironmentVariables[$"Kestrel__Endpoints__{name}__Url"] =
                ReferenceExpression.Create($"http://{host}:{endpoint.Property(EndpointProperty.TargetPort)}");
            context.EnvironmentVariables[$"Kestrel__Endpoints__{name}__Protocols"] = http2 ? "Http2" : "Http1";
        });
    }

    /// <summary>
    /// A secret several services share: on local engines kept in <c>.tokage/secrets/{name}</c> (so local tools
    /// such as the CLI can read it), otherwise generated once and kept in the AppHost's user secrets; in a
    /// manifest, an input the deployment tool generates.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddSharedSecret(this IDistributedApplicationBuilder builder, string name, EngineSetup engines) =>
        engines.Provider.Kind == EngineProviderKind.LocalProcesses && !builder.ExecutionContext.IsPublishMode
            ? builder.AddParameter(name, engines.State.Secret(name), secret: true)
            : builder.AddGeneratedPassword(name);

    /// <summary>
    /// The admin token of one service's API: in a deployment each service gets its own (a leaked one opens one API);
    /// on a developer's machine they share <paramref name="local"/>, which the CLI reads.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddAdminToken(this IDistributedApplicationBuilder builder, string service, IResourceBuilder<ParameterResource> local) =>
        builder.ExecutionContext.IsPublishMode ? builder.AddGeneratedPassword($"{service}-admin-token") : local;

    /// <summary>
    /// The database migrator: as the database's owner (the only process given the owner's credentials) it creates the
    /// roles, applies the migrations and grants, then exits; services that use the database wait for it to complete.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddDatabaseMigrator<TProject>(
        this IDistributedApplicationBuilder builder, string name, PostgresDatabase database, DatabaseRole app, DatabaseRole prices, DatabaseRole audit)
        where TProject : IProjectMetadata, new() =>
        builder.AddProject<TProject>(name, launchProfileName: null)
            .WithoutHttpsCertificate()
            .WithReference(database.Owner).WaitFor(database.Owner)
            .WithEnvironment("Tokage__Database__AppRole", app.Name)
            .WithEnvironment("Tokage__Database__AppRolePassword", app.Password)
            .WithEnvironment("Tokage__Database__PricesRole", prices.Name)
            .WithEnvironment("Tokage__Database__PricesRolePassword", prices.Password)
            .WithEnvironment("Tokage__Database__AuditRole", audit.Name)
            .WithEnvironment("Tokage__Database__AuditRolePassword", audit.Password);

    /// <summary>Connects a service to the database as <paramref name="role"/> (never as the owner), once the migrator has run.</summary>
    public static IResourceBuilder<ProjectResource> WithDatabase(
        this IResourceBuilder<ProjectResource> service, PostgresDatabase database, DatabaseRole role, IResourceBuilder<ProjectResource> migrator) =>
        service.WithEnvironment("ConnectionStrings__tokage", database.RoleConnectionString(role.Name, role.Password))
            .WaitForCompletion(migrator);

    /// <summary>
    /// For the services that accept or call tenants' webhook URLs: whether those may reach private networks, from
    /// the AppHost's <c>Tokage:Webhooks:AllowPrivateNetworks</c> (off unless set: a receiver on this machine needs it on).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithWebhookTargets(this IResourceBuilder<ProjectResource> service) =>
        service.WithEnvironment("Tokage__Webhooks__AllowPrivateNetworks",
            service.ApplicationBuilder.Configuration.GetValue<bool>("Tokage:Webhooks:AllowPrivateNetworks") ? "true" : "false");

    /// <summary>Connects a service to an engine (as <paramref name="connectionName"/> when given) and starts it only once the engine is ready.</summary>
    public static IResourceBuilder<ProjectResource> WithEngine(
        this IResourceBuilder<ProjectResource> service, IResourceBuilder<IResourceWithConnectionString> engine, string? connectionName = null) =>
        service.WithReference(engine, connectionName).WaitFor(engine);

    /// <summary>
    /// Connects a service to the event log. In a published deployment (three Redpanda brokers) it requires the topics to
    /// be replicated: three replicas, <c>min.insync.replicas</c> 2, or the service stays not-ready and acknowledges nothing.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithEventLog(this IResourceBuilder<ProjectResource> service, IResourceBuilder<IResourceWithConnectionString> events)
    {
        service.WithEngine(events);
        return service.ApplicationBuilder.ExecutionContext.IsPublishMode
            ? service.WithEnvironment("Tokage__EventLog__RequireReplicatedTopics", "true")
            : service;
    }

    /// <summary>Lets a service discover another (service discovery) and starts it once that one is ready.</summary>
    public static IResourceBuilder<ProjectResource> WithService(this IResourceBuilder<ProjectResource> service, IResourceBuilder<ProjectResource> dependency) =>
        service.WithReference(dependency).WaitFor(dependency);
}
