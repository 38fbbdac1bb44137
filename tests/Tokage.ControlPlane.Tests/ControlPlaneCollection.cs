namespace Tokage.ControlPlane.Tests;

/// <summary>
/// The control plane's suites share one stack, one after another: each uses tenants of its own, and on two cores the
/// stack's start-up (PostgreSQL, the migrator, the control plane, auth) per class cost more than its tests. The outage
/// suite, which stops PostgreSQL and Redis under the services, keeps a stack of its own.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ControlPlaneCollection : ICollectionFixture<ControlPlaneStack>
{
    public const string Name = "control plane";
}
