using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Npgsql;
using Tokage.Contracts.V1;

namespace Tokage.PriceRegistry.Tests;

[CollectionDefinition(Name)]
public sealed class RegistryCollection : ICollectionFixture<Registry>
{
    public const string Name = "price registry";
}

/// <summary>
/// The price registry as a process on a real PostgreSQL of its own (migrated by the database migrator, connected as the
/// registry's own role) and a Redis (key invalidations), with an admin token; shared by the tests of the collection.
/// Tenants' keys are tested with the control plane and auth (<c>Tokage.ControlPlane.Tests</c>).
/// </summary>
public sealed class Registry : IAsyncLifetime
{
    public const string AdminToken = "test-price-admin-token-0123456789";

    public const string FeedToken = "test-price-feed-token-0123456789";

    public PostgresProcess Postgres { get; private set; } = null!;

    public RedisProcess Redis { get; private set; } = null!;

    public ServiceProcess Service { get; private set; } = null!;

    public Dictionary<string, string> Environment => new()
    {
        ["ConnectionStrings__tokage"] = DatabaseMigratorProcess.ConnectionString(Postgres, "tokage", DatabaseMigratorProcess.PricesRole),
        ["ConnectionStrings__redis"] = Redis.ConnectionString,
        ["Tokage__PriceRegistry__AdminToken"] = AdminToken,
        ["Tokage__PriceRegistry__FeedToken"] = FeedToken,
    };

    public async Task InitializeAsync()
    {
        Redis = await RedisProcess.StartAsync();
        Postgres = await PostgresProcess.StartAsync();
        await Postgres.CreateDatabaseAsync("tokage");
        await DatabaseMigratorProcess.RunAsync(Postgres, "tokage");
        Service = await ServiceProcess.StartAsync("PriceRegistry", Environment);
    }

    public async Task DisposeAsync()
    {
        await Service.DisposeAsync();
        await Postgres.DisposeAsync();
        await Redis.DisposeAsync();
    }

    public Task<(HttpStatusCode Status, JsonNode? Body)> GetAsync(string path, Uri? service = null, string? token = null) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, path), service, token);

    /// <summary>A POST with the admin token unless another (or none, <c>""</c>) is given.</summary>
    public Task<(HttpStatusCode Status, JsonNode? Body)> PostAsync(string path, object body, string? token = AdminToken, Uri? service = null) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = body as HttpContent ?? JsonContent.Create(body) }, service, token);

    public async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpRequestMessage request, Uri? service = null, string? token = null)
    {
        using var http = new HttpClient { BaseAddress = service ?? Service.HttpUri };
        if (!string.IsNullOrEmpty(token))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using (request)
        using (var response = await http.SendAsync(request))
        {
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
        }
    }

    /// <summary>A feed client that presents <paramref name="token"/> (the feed token unless told otherwise; null: none).</summary>
    public PriceRegistryService.PriceRegistryServiceClient Grpc(GrpcChannel channel, string? token = FeedToken) =>
        new(channel.Intercept(metadata =>
        {
            if (token is not null)
            {
                metadata.Add("authorization", "Bearer " + token);
            }

            return metadata;
        }));

    public async Task<long> CountAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString("tokage"));
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM price_versions", connection);
        return (long)(await count.ExecuteScalarAsync())!;
    }
}
