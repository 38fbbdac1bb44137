using Microsoft.Extensions.Configuration;
using Aspire.Hosting.ApplicationModel;
using Npgsql;

namespace Tokage.AppHost.Engines;

/// <summary>
/// PostgreSQL run by the AppHost through <c>scripts/local-postgres.sh</c> (initdb on first start, then the
/// server in the foreground; as root, as the <c>postgres</c> system user, since PostgreSQL refuses root).
/// </summary>
public sealed class LocalPostgresResource(string name, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, "bash", workingDirectory), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";
    public const string UserName = "postgres";

    public EndpointReference PrimaryEndpoint => new(this, EndpointName);

    public ParameterResource Password { get; } = password;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={PrimaryEndpoint.Property(EndpointProperty.Host)};Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username={UserName};Password={Password}");
}

/// <summary>
/// The database: the owner's connection (only the database migrator gets it) and the connection string of each login
/// role the services run as, built from the server's address so that it never carries the owner's password.
/// </summary>
public sealed class PostgresDatabase(IResourceBuilder<IResourceWithConnectionString> owner, Func<string, ParameterResource, ReferenceExpression> roleConnection)
{
    public IResourceBuilder<IResourceWithConnectionString> Owner { get; } = owner;

    public ReferenceExpression RoleConnectionString(string role, IResourceBuilder<ParameterResource> password) => roleConnection(role, password.Resource);
}

public static class PostgresEngine
{
    /// <summary>
    /// The <paramref name="databaseName"/> database: the configured connection string, Aspire's
    /// PostgreSQL container with a database, or a local PostgreSQL server (the database created when it is ready).
    /// </summary>
    public static PostgresDatabase AddPostgresEngine(
        this IDistributedApplicationBuilder builder, string serverName, string databaseName, EngineProvider provider, LocalState state)
    {
        if (builder.HasConfiguredConnectionString(databaseName))
        {
            var configured = builder.Configuration.GetConnectionString(databaseName)!;
            return new(builder.AddConnectionString(databaseName), (role, password) =>
            {
                var server = new NpgsqlConnectionStringBuilder(configured) { Username = role };
                server.Remove("Password");
                return ReferenceExpression.Create($"{server.ConnectionString};Password={password}");
            });
        }

        if (provider.Kind == EngineProviderKind.Containers)
        {
            var container = builder.AddPostgres(serverName)
                .WithDataVolume($"{serverName}-data")
                .WithEnvironment(EngineResourceProperties.ProviderEnvironmentVariable, provider.DisplayName);
            return new(container.AddDatabase(databaseName), (role, password) => RoleConnection(container.Resource.PrimaryEndpoint, databaseName, role, password));
        }

        var password = builder.AddParameter($"{serverName}-password", state.Secret($"{serverName}-password"), secret: true);
        var repositoryRoot = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, ".."));
        var server = builder.AddResource(new LocalPostgresResource(serverName, repositoryRoot, password.Resource))
            .WithEndpoint(name: LocalPostgresResource.EndpointName, scheme: "tcp", isProxied: false)
            .WithArgs(context =>
            {
                var resource = (LocalPostgresResource)context.Resource;
                context.Args.Add(Path.Combine(repositoryRoot, "scripts", "local-postgres.sh"));
                context.Args.Add(Path.Combine(state.Root, serverName));
                context.Args.Add(resource.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add(state.SecretPath($"{serverName}-password"));
            })
            .WithEnvironment(EngineResourceProperties.ProviderEnvironmentVariable, $"{provider.DisplayName} ({provider.Reason})");

        server.WithConnectionHealthCheck(OpenConnectionAsync);

        var connectionString = ReferenceExpression.Create($"{server.Resource};Database={databaseName}");
        var database = builder.AddConnection(databaseName, server, connectionString, provider, "PostgresDatabase");

        // Created once the server answers, as Aspire's own AddDatabase does for the container.
        builder.Eventing.Subscribe<ResourceReadyEvent>(server.Resource, async (_, cancellationToken) =>
        {
            var serverConnectionString = await server.Resource.ConnectionStringExpression.GetValueAsync(cancellationToken);
            await using var connection = new NpgsqlConnection(serverConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
            exists.Parameters.AddWithValue(databaseName);
            if (await exists.ExecuteScalarAsync(cancellationToken) is null)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{databaseName}\"", connection);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
        });

        return new(database.WithConnectionHealthCheck(DatabaseExistsAsync),
            (role, password) => RoleConnection(server.Resource.PrimaryEndpoint, databaseName, role, password));
    }

    private static ReferenceExpression RoleConnection(EndpointReference endpoint, string databaseName, string role, ParameterResource password) =>
        ReferenceExpression.Create(
            $"Host={endpoint.Property(EndpointProperty.Host)};Port={endpoint.Property(EndpointProperty.Port)};Username={role};Password={password};Database={databaseName}");

    /// <summary>
    /// Ready means the database exists, asked of the server's own <c>postgres</c> database: opening a database
    /// that is not created yet would make the server log a FATAL on every probe until it is.
    /// </summary>
    private static async Task DatabaseExistsAsync(string connectionString, CancellationToken cancellationToken)
    {
        var server = new NpgsqlConnectionStringBuilder(connectionString) { Timeout = 3 };
        var database = server.Database ?? throw new InvalidOperationException("The connection string names no database.");
        server.Database = "postgres";
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
        exists.Parameters.AddWithValue(database);
        if (await exists.ExecuteScalarAsync(cancellationToken) is null)
        {
            throw new InvalidOperationException($"The database '{database}' is not created yet.");
        }
    }

    /// <summary>Ready means a session opens (and, for the database, that it exists).</summary>
    private static async Task OpenConnectionAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Timeout=3");
        await connection.OpenAsync(cancellationToken);
    }
}
