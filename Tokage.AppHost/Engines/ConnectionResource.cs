using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Aspire.Hosting.ApplicationModel;

namespace Tokage.AppHost.Engines;

/// <summary>
/// A named connection onto an engine process (the <c>tokage</c> database on PostgreSQL, the <c>events</c>
/// log on Redis or Redpanda, <c>analytics</c> on the ClickHouse host): what services reference. It has no
/// process of its own; it is running when its parent is, and ready when its own health check passes.
/// </summary>
public sealed class ConnectionResource(string name, IResource parent, ReferenceExpression connectionString)
    : Resource(name), IResourceWithConnectionString, IResourceWithParent
{
    public IResource Parent { get; } = parent;

    public ReferenceExpression ConnectionStringExpression { get; } = connectionString;
}

public static class ConnectionResourceExtensions
{
    /// <summary>
    /// Adds a connection resource under <paramref name="parent"/>. Its state follows the parent's
    /// readiness, so <c>WaitFor(connection)</c> waits for the engine and then for the connection's own check.
    /// </summary>
    public static IResourceBuilder<ConnectionResource> AddConnection(
        this IDistributedApplicationBuilder builder,
        string name,
        IResourceBuilder<IResource> parent,
        ReferenceExpression connectionString,
        EngineProvider provider,
        string resourceType)
    {
        var connection = builder.AddResource(new ConnectionResource(name, parent.Resource, connectionString))
            .WithParentRelationship(parent)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = resourceType,
                State = KnownResourceStates.Waiting,
                Properties = [new(EngineResourceProperties.Provider, $"{provider.DisplayName} ({provider.Reason})")],
            });

        builder.Eventing.Subscribe<ResourceReadyEvent>(parent.Resource, async (@event, cancellationToken) =>
        {
            var notifications = @event.Services.GetRequiredService<ResourceNotificationService>();
            await notifications.PublishUpdateAsync(connection.Resource, state => state with
            {
                State = KnownResourceStates.Running,
                StartTimeStamp = DateTime.UtcNow,
            });
        });

        return connection;
    }
}

public static class EngineResourceProperties
{
    /// <summary>Resource property (dashboard "details") that says which provider runs the engine, and why.</summary>
    public const string Provider = "tokage.provider";

    /// <summary>Environment variable on engine processes carrying the same information.</summary>
    public const string ProviderEnvironmentVariable = "TOKAGE_ENGINE_PROVIDER";
}
