using Tokage.AppHost.Engines;

namespace Tokage.AppHost.Tests;

/// <summary>The application model the AppHost builds for each provider choice, inspected without starting it.</summary>
public sealed class AppModelTests : IDisposable
{
    private readonly DirectoryInfo _state = Directory.CreateTempSubdirectory("tokage-model-");

    public void Dispose() => _state.Delete(recursive: true);

    private static readonly string[] Services =
        ["auth", "control-plane", "price-registry", "ingestion", "event-processor", "query-api", "billing-pipeline", "audit-log", "synthetic-monitor"];

    private async Task<IDistributedApplicationTestingBuilder> BuildModelAsync(params string[] args) =>
        await DistributedApplicationTestingBuilder.CreateAsync<Projects.Tokage_AppHost>(
            [$"Tokage:StateDirectory={_state.FullName}", .. args], TestContext.Token);

    private static IResource Resource(IDistributedApplicationTestingBuilder builder, string name) =>
        Assert.Single(builder.Resources, r => r.Name == name);

    [Fact]
    public async Task Without_a_container_runtime_engines_are_local_processes()
    {
        var builder = await BuildModelAsync("Tokage:Engines=local");

        Assert.IsType<LocalRedisResource>(Resource(builder, "redis"));
        Assert.IsType<LocalPostgresResource>(Resource(builder, "postgres"));
        Assert.IsType<FileSystemObjectStoreResource>(Resource(builder, "archive"));
        Assert.IsType<ProjectResource>(Resource(builder, "analytics-host"));

        var database = Assert.IsType<ConnectionResource>(Resource(builder, "tokage"));
        Assert.Equal("postgres", database.Parent.Name);

        var events = Assert.IsType<ConnectionResource>(Resource(builder, "events"));
        Assert.Equal("redis", events.Parent.Name);
        Assert.StartsWith("Transport=RedisStreams;Redis=", events.ConnectionStringExpression.ValueExpression);

        var analytics = Assert.IsType<ConnectionResource>(Resource(builder, "analytics"));
        Assert.Equal("analytics-host", analytics.Parent.Name);
        Assert.Contains("Protocol=http", analytics.ConnectionStringExpression.ValueExpression);
    }

    [Fact]
    public async Task With_a_container_runtime_engines_are_containers()
    {
        var builder = await BuildModelAsync("Tokage:Engines=containers");

        Assert.IsType<RedisResource>(Resource(builder, "redis"));
        Assert.IsType<PostgresServerResource>(Resource(builder, "postgres"));
        Assert.IsType<PostgresDatabaseResource>(Resource(builder, "tokage"));
        Assert.IsType<RedpandaResource>(Resource(builder, "redpanda"));
        Assert.IsType<ClickHouseServerResource>(Resource(builder, "analytics"));
        Assert.IsType<MinioResource>(Resource(builder, "archive"));
        Assert.DoesNotContain(builder.Resources, r => r.Name == "analytics-host");

        var events = Assert.IsType<ConnectionResource>(Resource(builder, "events"));
        Assert.Equal("redpanda", events.Parent.Name);
        Assert.StartsWith("Transport=Kafka;BootstrapServers=", events.ConnectionStringExpression.ValueExpression);
    }

    [Fact]
    public async Task A_configured_connection_string_replaces_the_engine()
    {
        var builder = await BuildModelAsync(
            "Tokage:Engines=local",
            "ConnectionStrings:analytics=Host=clickhouse.example;Port=8443;Protocol=https",
            "ConnectionStrings:events=Transport=Kafka;BootstrapServers=broker-1:9092");

        Assert.IsNotType<ConnectionResource>(Resource(builder, "analytics"));
        Assert.Equal("{analytics.connectionString}", ((IResourceWithConnectionString)Resource(builder, "analytics")).ConnectionStringExpression.ValueExpression);
        Assert.DoesNotContain(builder.Resources, r => r.Name == "analytics-host");
        Assert.IsNotType<ConnectionResource>(Resource(builder, "events"));
        // The engines nobody configured still come from the chosen provider.
        Assert.IsType<LocalRedisResource>(Resource(builder, "redis"));
        Assert.IsType<LocalPostgresResource>(Resource(builder, "postgres"));
    }

    [Fact]
    public async Task All_nine_services_are_declared_with_http_and_grpc_endpoints()
    {
        var builder = await BuildModelAsync("Tokage:Engines=local");

        foreach (var name in Services)
        {
            var service = Assert.IsType<ProjectResource>(Resource(builder, name));
            var endpoints = service.Annotations.OfType<EndpointAnnotation>().ToDictionary(e => e.Name);
            Assert.Equal("http", endpoints["http"].Transport);
            Assert.Equal("http2", endpoints["grpc"].Transport);
        }

        var ingestion = Resource(builder, "ingestion").Annotations.OfType<EndpointAnnotation>().ToDictionary(e => e.Name, e => e.Port);
        Assert.Equal(8080, ingestion["http"]);
        Assert.Equal(8081, ingestion["grpc"]);
        Assert.Equal(4317, ingestion["otlp-grpc"]);
        Assert.Equal(4318, ingestion["otlp-http"]);

        var billing = Resource(builder, "billing-pipeline").Annotations.OfType<EndpointAnnotation>().ToDictionary(e => e.Name, e => e.Port);
        Assert.Equal(8075, billing["http"]);
        Assert.Equal(8065, Resource(builder, "audit-log").Annotations.OfType<EndpointAnnotation>().Single(e => e.Name == "http").Port);

        // The console: one external HTTP endpoint on its fixed port, no gRPC.
        var console = Resource(builder, "console").Annotations.OfType<EndpointAnnotation>().ToDictionary(e => e.Name);
        Assert.Equal(["http"], console.Keys);
        Assert.Equal(8050, console["http"].Port);
        Assert.True(console["http"].IsExternal);
    }

    public static TheoryData<string, string[], string[]> ServiceEnvironments => new()
    {
        { "auth", ["redis", "tokage"], [] },
        { "control-plane", ["redis", "tokage"], [] },
        { "price-registry", ["tokage", "analytics", "redis"], ["auth"] },
        { "ingestion", ["redis", "events"], ["auth"] },
        { "event-processor", ["redis", "events", "analytics", "archive"], ["price-registry"] },
        { "query-api", ["redis", "tokage", "analytics"], ["auth"] },
        { "billing-pipeline", ["redis", "tokage", "analytics", "archive"], ["auth"] },
        { "audit-log", ["tokage", "archive", "redis"], ["auth"] },
        { "synthetic-monitor", ["analytics", "events"], ["ingestion", "query-api", "price-registry", "control-plane"] },
        // The console holds no database: members act through the services' APIs; Redis keeps its cookie keys.
        { "console", ["redis"], ["control-plane", "query-api", "price-registry", "billing-pipeline", "ingestion", "audit-log"] },
    };

    private static readonly Dictionary<string, string> DatabaseRoles = new()
    {
        ["auth"] = "tokage_app", ["control-plane"] = "tokage_app", ["query-api"] = "tokage_app", ["billing-pipeline"] = "tokage_app",
        ["price-registry"] = "tokage_prices", ["audit-log"] = "tokage_audit",
    };

    /// <summary>Each service gets exactly the engines it needs, and the services it calls by discovery.</summary>
    [Theory]
    [MemberData(nameof(ServiceEnvironments))]
    public async Task Each_service_receives_its_engines_and_nothing_else(string service, string[] engines, string[] dependencies)
    {
        var builder = await BuildModelAsync("Tokage:Engines=local");
        var resource = (IResourceWithEnvironment)Resource(builder, service);

        var environment = await EnvironmentOf(resource);

        var connectionStrings = environment.Keys.Where(k => k.StartsWith("ConnectionStrings__")).Select(k => k["ConnectionStrings__".Length..]);
        Assert.Equal(engines.Order(), connectionStrings.Order());
        foreach (var engine in engines.Where(e => e != "tokage"))
        {
            // The query API reads the analytics store as its read-only user.
            var source = service is "query-api" or "synthetic-monitor" && engine == "analytics" ? "analytics-reader" : engine;
            Assert.Equal($"{{{source}.connectionString}}", environment[$"ConnectionStrings__{engine}"]);
        }

        // The database as a role of the service's own kind, never the owner (whose password only the migrator has).
        if (engines.Contains("tokage"))
        {
            var database = environment["ConnectionStrings__tokage"];
            Assert.Contains($"Username={DatabaseRoles[service]};Password={{{DatabaseRoles[service].Replace('_', '-')}-password.value}}", database);
            Assert.DoesNotContain("postgres-password", database);
        }

        foreach (var dependency in dependencies)
        {
            Assert.Equal($"{{{dependency}.bindings.grpc.url}}", environment[$"services__{dependency}__grpc__0"]);
        }

        // Every service but the console (a web front end) serves gRPC beside HTTP.
        if (service == "console")
        {
            Assert.DoesNotContain("Kestrel__Endpoints__grpc__Url", environment.Keys);
        }
        else
        {
            Assert.Equal("Http2", environment["Kestrel__Endpoints__grpc__Protocols"]);
            Assert.Equal($"http://localhost:{{{service}.bindings.grpc.targetPort}}", environment["Kestrel__Endpoints__grpc__Url"]);
        }

        Assert.Equal("Http1", environment["Kestrel__Endpoints__http__Protocols"]);
    }

    /// <summary>No local engine or service gets a secret on its command line (where any user's ps reads it).</summary>
    [Fact]
    public async Task No_secret_is_passed_on_a_command_line()
    {
        var builder = await BuildModelAsync("Tokage:Engines=local");
        var secrets = builder.Resources.OfType<ParameterResource>().Where(p => p.Secret).Select(p => $"{{{p.Name}.value}}").ToList();
        Assert.Contains("{redis-password.value}", secrets);

        var context = new DistributedApplicationExecutionContext(DistributedApplicationOperation.Publish);
        foreach (var resource in builder.Resources.OfType<IResourceWithArgs>())
        {
            var configuration = await ExecutionConfigurationBuilder.Create(resource)
                .WithArgumentsConfig()
                .BuildAsync(context, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TestContext.Token);
            var arguments = configuration.Arguments.Select(a => a.Value).ToList();
            Assert.DoesNotContain(arguments, a => secrets.Any(a.Contains));
        }

        var redisConfig = Path.Combine(_state.FullName, "secrets", "redis.conf");
        // Plain text without a byte-order mark: redis-server reads the first directive byte for byte.
        Assert.StartsWith("requirepass \"", System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(redisConfig)));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(redisConfig));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(redisConfig)!));
        }
    }

    /// <summary>Environment as the manifest would write it: references stay expressions, nothing has to be running.</summary>
    private static async Task<Dictionary<string, string>> EnvironmentOf(IResourceWithEnvironment resource)
    {
        var context = new DistributedApplicationExecutionContext(DistributedApplicationOperation.Publish);
        var configuration = await ExecutionConfigurationBuilder.Create(resource)
            .WithEnvironmentVariablesConfig()
            .BuildAsync(context, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TestContext.Token);
        return configuration.EnvironmentVariables.ToDictionary(kv => kv.Key, kv => kv.Value);
    }
}

internal static class TestContext
{
    /// <summary>A generous bound on any single test, so a hang fails instead of stalling CI.</summary>
    public static CancellationToken Token => new CancellationTokenSource(TimeSpan.FromMinutes(4)).Token;
}
