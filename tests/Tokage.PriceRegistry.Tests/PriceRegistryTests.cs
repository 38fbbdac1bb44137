using System.Net;
using Npgsql;

namespace Tokage.PriceRegistry.Tests;

/// <summary>The price registry as a process on a real PostgreSQL: seeded once from the shipped data, effective-dated, append-only.</summary>
[Collection(RegistryCollection.Name)]
public sealed class PriceRegistryTests(Registry registry)
{
    [Fact]
    public async Task TodaysPriceComesFromTheSnapshotAsExactDecimalStrings()
    {
        var (status, body) = await registry.GetAsync("/v1/prices?provider=anthropic&model=claude-sonnet-4-5");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("claude-sonnet-4-5", (string)body!["model"]!);
        Assert.Equal("exact", (string)body["resolution"]!);
        Assert.Equal("0.000003", (string)body["prices"]!["input_cost_per_token"]!);
        Assert.Equal("0.000006", (string)body["prices"]!["cache_creation_input_token_cost_above_1hr"]!);
    }

    [Fact]
    public async Task ThePriceInEffectAtTheEventsTimeWins()
    {
        // gemini-2.0-flash-001's prices changed on 2025-02-07 (the history's first change).
        var (_, before) = await registry.GetAsync("/v1/prices?provider=gcp.vertex_ai&model=gemini-2.0-flash-001&at=2025-02-06T12:00:00Z");
        var (_, after) = await registry.GetAsync("/v1/prices?provider=gcp.vertex_ai&model=gemini-2.0-flash-001&at=2025-02-08T00:00:00Z");

        Assert.Equal("0.00015", (string)before!["prices"]!["input_cost_per_token"]!);
        Assert.Equal("history", (string)before["source"]!);
        Assert.Equal("0.00000015", (string)after!["prices"]!["input_cost_per_token"]!);
        Assert.NotEqual((long)before["version_id"]!, (long)after["version_id"]!);

        var (status, history) = await registry.GetAsync("/v1/prices/gcp.vertex_ai/gemini-2.0-flash-001/history");
        Assert.Equal(HttpStatusCode.OK, status);
        var versions = history!["versions"]!.AsArray();
        Assert.True(versions.Count >= 2);
        var starts = versions.Select(v => (DateTimeOffset)v!["effective_from"]!).ToList();
        Assert.Equal(starts.Order(), starts);
    }

    [Fact]
    public async Task NamesResolveAndUnknownModelsAreUnpricedNotFree()
    {
        var (_, dated) = await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4o-2099-01-31");
        Assert.Equal(("gpt-4o", "dated_to_base"), ((string)dated!["model"]!, (string)dated["resolution"]!));
        var (_, prefixed) = await registry.GetAsync("/v1/prices?model=gemini/gemini-2.5-pro");
        Assert.Equal("gemini/gemini-2.5-pro", (string)prefixed!["model"]!);

        var (unknown, problem) = await registry.GetAsync("/v1/prices?provider=openai&model=no-such-model");
        Assert.Equal(HttpStatusCode.NotFound, unknown);
        Assert.Contains("unpriced", (string)problem!["detail"]!);
        Assert.Equal(HttpStatusCode.BadRequest, (await registry.GetAsync("/v1/prices?provider=openai")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await registry.GetAsync("/v1/prices?model=gpt-4o&at=yesterday")).Status);

        // Before a model's first price, its events are unpriced too.
        var (early, _) = await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4o&at=2020-01-01T00:00:00Z");
        Assert.Equal(HttpStatusCode.NotFound, early);
    }

    [Fact]
    public async Task VersionsAreSeededOnceAndNeverRewritten()
    {
        await using var connection = new NpgsqlConnection(registry.Postgres.ConnectionString("tokage"));
        await connection.OpenAsync();
        async Task<long> CountAsync()
        {
            await using var count = new NpgsqlCommand("SELECT count(*) FROM price_versions", connection);
            return (long)(await count.ExecuteScalarAsync())!;
        }

        var seeded = await CountAsync();
        Assert.True(seeded > 2_500);

        // A second replica starting on the same database seeds nothing.
        await using (var second = await ServiceProcess.StartAsync("PriceRegistry", registry.Environment))
        {
            var (status, _) = await registry.GetAsync("/v1/prices?provider=openai&model=gpt-4o", second.HttpUri);
            Assert.Equal(HttpStatusCode.OK, status);
        }

        Assert.Equal(seeded, await CountAsync());

        await using var update = new NpgsqlCommand("UPDATE price_versions SET source = 'edited' WHERE model_key = 'gpt-4o'", connection);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => update.ExecuteNonQueryAsync());
        Assert.Contains("never rewritten", refused.MessageText);
        await using var delete = new NpgsqlCommand("DELETE FROM price_versions", connection);
        await Assert.ThrowsAsync<PostgresException>(() => delete.ExecuteNonQueryAsync());
        Assert.Equal(seeded, await CountAsync());
    }

    /// <summary>
    /// The registry's role reads and appends price versions and does nothing else: no rewrite (refused by privilege
    /// before the trigger), no other table, no DDL. Its connection string never names the owner.
    /// </summary>
    [Fact]
    public async Task TheRegistrysRoleMayOnlyReadAndAppendPriceVersions()
    {
        var connectionString = registry.Environment["ConnectionStrings__tokage"];
        Assert.Equal(DatabaseMigratorProcess.PricesRole, new NpgsqlConnectionStringBuilder(connectionString).Username);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        async Task<PostgresException> RefusedAsync(string sql)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            return await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
        }

        await using (var read = new NpgsqlCommand("SELECT count(*) FROM price_versions", connection))
        {
            Assert.True((long)(await read.ExecuteScalarAsync())! > 0);
        }

        foreach (var sql in new[]
        {
            "UPDATE price_versions SET source = 'edited'",
            "DELETE FROM price_versions",
            "TRUNCATE price_versions",
            "DROP TRIGGER price_versions_are_kept ON price_versions",
            "CREATE TABLE mine (id int)",
            "SELECT count(*) FROM tenants",
        })
        {
            var refused = await RefusedAsync(sql);
            Assert.True(refused.SqlState is PostgresErrorCodes.InsufficientPrivilege, $"{sql}: {refused.SqlState} {refused.MessageText}");
        }
    }
}
