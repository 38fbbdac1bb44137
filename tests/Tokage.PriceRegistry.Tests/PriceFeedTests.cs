using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Npgsql;
using Tokage.Contracts.V1;

namespace Tokage.PriceRegistry.Tests;

/// <summary>The gRPC feed the event processor prices from (snapshot, then changes, across replicas), and the in-place migration.</summary>
[Collection(RegistryCollection.Name)]
public sealed class PriceFeedTests(Registry registry)
{
    [Fact]
    public async Task TheSnapshotHoldsEveryVersionAndTheFeedPagesByIdFromIt()
    {
        using var channel = GrpcChannel.ForAddress(registry.Service.GrpcUri);
        var client = registry.Grpc(channel);

        var snapshot = await client.GetSnapshotAsync(new GetPriceSnapshotRequest());

        Assert.Equal(await registry.CountAsync(), snapshot.Versions.Count);
        Assert.Equal(snapshot.Versions.Max(v => v.Id), snapshot.LatestId);
        var sonnet = snapshot.Versions
            .Where(v => v.ModelKey == "claude-sonnet-4-5" && v.TenantId == "" && v.EffectiveFrom.ToDateTimeOffset() <= DateTimeOffset.UtcNow)
            .MaxBy(v => v.EffectiveFrom.ToDateTimeOffset())!;
        Assert.Equal("0.000003", sonnet.Prices["input_cost_per_token"]);
        Assert.Equal("anthropic", sonnet.Provider);
        var flash = snapshot.Versions.Where(v => v.ModelKey == "gemini-2.0-flash-001").OrderBy(v => v.EffectiveFrom).ToList();
        Assert.Equal(["history", "history"], flash.Take(2).Select(v => v.Source));
        Assert.Equal(new DateTimeOffset(2025, 2, 6, 0, 0, 0, TimeSpan.Zero), flash[0].EffectiveFrom.ToDateTimeOffset());

        // From a cursor: exactly the versions after it, in id order.
        var ids = snapshot.Versions.Select(v => v.Id).Order().ToList();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var watch = client.WatchChanges(new WatchPriceChangesRequest { AfterId = ids[^4] }, cancellationToken: deadline.Token);
        var first = new List<long>();
        while (first.Count < 3 && await watch.ResponseStream.MoveNext(deadline.Token))
        {
            first.Add(watch.ResponseStream.Current.Id);
        }

        Assert.Equal(ids[^3..], first);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-the-feed-token-0123456789")]
    [InlineData(Registry.AdminToken)]
    public async Task TheFeedCarriesNegotiatedPricesSoItAnswersOnlyTheFeedToken(string? token)
    {
        using var channel = GrpcChannel.ForAddress(registry.Service.GrpcUri);
        var client = registry.Grpc(channel, token);

        var snapshot = await Assert.ThrowsAsync<RpcException>(async () => await client.GetSnapshotAsync(new GetPriceSnapshotRequest()));
        using var watch = client.WatchChanges(new WatchPriceChangesRequest());
        var changes = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Equal(StatusCode.Unauthenticated, snapshot.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, changes.StatusCode);
        Assert.Contains("feed token", snapshot.Status.Detail);
    }

    [Fact]
    public async Task AStreamOnAnotherReplicaReceivesAVersionPostedToThisOne()
    {
        await using var replica = await ServiceProcess.StartAsync("PriceRegistry", registry.Environment);
        using var channel = GrpcChannel.ForAddress(replica.GrpcUri);
        var client = registry.Grpc(channel);
        var cursor = (await client.GetSnapshotAsync(new GetPriceSnapshotRequest())).LatestId;
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var watch = client.WatchChanges(new WatchPriceChangesRequest { AfterId = cursor }, cancellationToken: deadline.Token);

        var (status, created) = await registry.PostAsync("/v1/prices", new
        {
            provider = "openai", model = "gpt-4o", effective_from = "2030-03-01T00:00:00Z", tenant_id = "tenant-watch",
            prices = new { input_cost_per_token = "0.000002", output_cost_per_token = "0.000008" }, source = "contract w-1",
        });
        Assert.Equal(HttpStatusCode.Created, status);
        var id = (long)created!["version_id"]!;

        var received = new List<PriceVersionMessage>();
        while ((received.Count == 0 || received[^1].Id < id) && await watch.ResponseStream.MoveNext(deadline.Token))
        {
            received.Add(watch.ResponseStream.Current);
        }

        Assert.All(received, v => Assert.True(v.Id > cursor));
        Assert.Equal(received.Select(v => v.Id).Order(), received.Select(v => v.Id));
        var version = received[^1];
        Assert.Equal((id, "tenant-watch", "gpt-4o", "openai", "contract w-1"), (version.Id, version.TenantId, version.ModelKey, version.Provider, version.Source));
        Assert.Equal("0.000002", version.Prices["input_cost_per_token"]);
        Assert.Equal(new DateTimeOffset(2030, 3, 1, 0, 0, 0, TimeSpan.Zero), version.EffectiveFrom.ToDateTimeOffset());

        // The replica's own book has it as well: it streams only what its book holds.
        var (_, price) = await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4o&at=2030-06-01T00:00:00Z&tenant_id=tenant-watch", replica.HttpUri, Registry.AdminToken);
        Assert.Equal(id, (long)price!["version_id"]!);
        Assert.True((bool)price["override"]!);
    }

    [Fact]
    public async Task ATableOfBeforeOverridesIsMigratedInPlace()
    {
        await registry.Postgres.CreateDatabaseAsync("legacy");
        await using var connection = new NpgsqlConnection(registry.Postgres.ConnectionString("legacy"));
        await connection.OpenAsync();
        async Task ExecuteAsync(string sql)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }

        // The table as the registry created it before tenants' overrides.
        await ExecuteAsync("""
            CREATE TABLE price_versions (
                id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                model_key      text NOT NULL,
                provider       text NOT NULL,
                effective_from timestamptz NOT NULL,
                prices         jsonb NOT NULL,
                source         text NOT NULL,
                recorded_at    timestamptz NOT NULL DEFAULT now(),
                UNIQUE (model_key, effective_from)
            );
            INSERT INTO price_versions (model_key, provider, effective_from, prices, source)
            VALUES ('legacy-model', 'openai', '2025-01-01T00:00:00Z', '{"input_cost_per_token": "0.000001", "output_cost_per_token": "0.000004"}', 'snapshot');
            """);

        // The migrator adopts the table; the registry then connects as its own role.
        await DatabaseMigratorProcess.RunAsync(registry.Postgres, "legacy");
        var environment = registry.Environment;
        environment["ConnectionStrings__tokage"] = DatabaseMigratorProcess.ConnectionString(registry.Postgres, "legacy", DatabaseMigratorProcess.PricesRole);
        await using var migrated = await ServiceProcess.StartAsync("PriceRegistry", environment);

        // Kept (a table with rows is never re-seeded), public, and an override may now start at the same instant.
        var (_, legacy) = await registry.GetAsync("/v1/prices?provider=openai&model=legacy-model", migrated.HttpUri);
        Assert.Equal(("0.000001", false), ((string)legacy!["prices"]!["input_cost_per_token"]!, (bool)legacy["override"]!));
        var (status, _) = await registry.PostAsync("/v1/prices", new
        {
            provider = "openai", model = "legacy-model", effective_from = "2025-01-01T00:00:00Z", tenant_id = "tenant-l",
            prices = new { input_cost_per_token = "0.0000005" },
        }, service: migrated.HttpUri);
        Assert.Equal(HttpStatusCode.Created, status);
        await using (var count = new NpgsqlCommand("SELECT count(*) FROM price_versions WHERE tenant_id = ''", connection))
        {
            Assert.Equal(1L, (long)(await count.ExecuteScalarAsync())!);
        }

        var refused = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync("UPDATE price_versions SET source = 'edited'"));
        Assert.Contains("never rewritten", refused.MessageText);
    }
}
