// WithoutHttpsCertificate() is marked experimental (ASPIRECERTIFICATES001).
#pragma warning disable ASPIRECERTIFICATES001
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Aspire.Hosting.ApplicationModel;
using StackExchange.Redis;

namespace Tokage.AppHost.Engines;

/// <summary>redis-server run by the AppHost: AOF with <c>appendfsync always</c>, so it can carry the event log.</summary>
public sealed class LocalRedisResource(string name, string dataDirectory, ParameterResource password)
    : ExecutableResource(name, "redis-server", dataDirectory), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";

    public EndpointReference PrimaryEndpoint => new(this, EndpointName);

    public ParameterResource Password { get; } = password;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"{PrimaryEndpoint.Property(EndpointProperty.Host)}:{PrimaryEndpoint.Property(EndpointProperty.Port)},password={Password}");
}

public static class RedisEngine
{
    /// <summary>
    /// Redis for caches, rate limits, dedupe and (without a broker) the event log: the configured
    /// connection string, Aspire's Redis container, or a local redis-server.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddRedisEngine(
        this IDistributedApplicationBuilder builder, string name, EngineProvider provider, LocalState state)
    {
        if (builder.HasConfiguredConnectionString(name))
        {
            return builder.AddConnectionString(name);
        }

        if (provider.Kind == EngineProviderKind.Containers)
        {
            // On a volume, every write fsynced to the AOF before the reply: the dedupe claims, the key cache and, on
            // Redis Streams, the log itself survive a restart.
            return builder.AddRedis(name).WithoutHttpsCertificate()
                .WithDataVolume($"{name}-data")
                .WithArgs(AppendOnlyAlways)
                .WithEnvironment(EngineResourceProperties.ProviderEnvironmentVariable, provider.DisplayName);
        }

        var password = builder.AddParameter($"{name}-password", state.Secret($"{name}-password"), secret: true);
        // The password in a 0600 config file, not on the command line where every user's ps shows it.
        var config = state.SecretFile($"{name}.conf", $"requirepass \"{state.Secret($"{name}-password")}\"\n");
        var redis = builder.AddResource(new LocalRedisResource(name, state.Directory(name), password.Resource))
            .WithEndpoint(name: LocalRedisResource.EndpointName, scheme: "tcp", isProxied: false)
            .WithArgs(context =>
            {
                var resource = (LocalRedisResource)context.Resource;
                context.Args.Add(config);
                context.Args.Add("--port");
                context.Args.Add(resource.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add("--bind");
                context.Args.Add("127.0.0.1");
                // Durable enough to acknowledge events: every write is fsynced to the AOF before the reply.
                context.Args.Add("--appendonly");
                context.Args.Add("yes");
                context.Args.Add("--appendfsync");
                context.Args.Add("always");
                context.Args.Add("--save");
                context.Args.Add("");
                context.Args.Add("--daemonize");
                context.Args.Add("no");
            })
            .WithEnvironment(EngineResourceProperties.ProviderEnvironmentVariable, $"{provider.DisplayName} ({provider.Reason})");

        redis.WithConnectionHealthCheck(async (connectionString, _) =>
        {
            await using var connection = await ConnectionMultiplexer.ConnectAsync(connectionString + ",abortConnect=true,connectTimeout=2000");
            await connection.GetDatabase().PingAsync();
        });

        return redis;
    }

    /// <summary>
    /// Aspire starts its Redis container as <c>/bin/sh -c "redis-server …"</c>; the AOF settings join that command.
    /// </summary>
    private static void AppendOnlyAlways(CommandLineArgsCallbackContext context)
    {
        var command = context.Args.IndexOf("-c") + 1;
        if (command == 0 || command >= context.Args.Count || context.Args[command] is not string redisServer || !redisServer.StartsWith("redis-server", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("Aspire's Redis container no longer starts as '/bin/sh -c \"redis-server …\"': the AOF settings need a new home.");
        }

        context.Args[command] = redisServer + " --appendonly yes --appendfsync always";
    }

    /// <summary>A <c>ConnectionStrings:{name}</c> entry always wins: it names a real server the AppHost doesn't run.</summary>
    public static bool HasConfiguredConnectionString(this IDistributedApplicationBuilder builder, string name) =>
        !string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(name));
}
