using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Utility;
using Tokage.Analytics.Schema;

namespace Tokage.Analytics.Tests;

public sealed class MigrationTests(UsageStoreFixture fixture) : IClassFixture<UsageStoreFixture>
{
    [Fact]
    public async Task FreshStoreGetsEveryMigrationOnceAndTheSchemaTheStoreNeeds()
    {
        using var store = await fixture.NewStoreAsync(migrate: false);
        Assert.Equal(0, await store.Migrator.AppliedVersionAsync());

        var first = await store.Migrator.MigrateAsync();
        Assert.Equal(Migration.All.Select(m => m.Version), first.Applied);
        Assert.Equal(Migration.LatestVersion, await store.Migrator.AppliedVersionAsync());

        var again = await store.Migrator.MigrateAsync();
        Assert.Empty(again.Applied);
        Assert.Empty(again.RetentionChanged);
        Assert.Equal((ulong)Migration.All.Count, await store.CountAsync("SELECT count() FROM tokage_schema_migrations FINAL"));

        var raw = await TableAsync(store, "usage_events");
        Assert.Equal("ReplacingMergeTree", raw.Engine);
        Assert.StartsWith("tenant_id", raw.SortingKey);
        Assert.Equal("toYYYYMM(event_time)", raw.PartitionKey);
        Assert.Contains("ReplacingMergeTree(ingest_version)", raw.EngineFull);
        Assert.Contains("TTL toDateTime(event_time) + toIntervalDay(400)", raw.EngineFull);

        foreach (var rollup in (string[])["usage_hourly", "usage_daily", "usage_daily_compact"])
        {
            var table = await TableAsync(store, rollup);
            Assert.Equal("SummingMergeTree", table.Engine);
            Assert.StartsWith("tenant_id", table.SortingKey);
            foreach (var key in (string[])["provider", "model", "application", "project", "team", "environment"])
            {
                Assert.Contains(key, table.SortingKey);
            }

            Assert.Equal(rollup != "usage_daily_compact", table.SortingKey.Contains("user_id", StringComparison.Ordinal));
        }

        var byUser = await TableAsync(store, "usage_daily_user");
        Assert.Equal(("SummingMergeTree", "tenant_id, day, user_id"), (byUser.Engine, byUser.SortingKey));

        Assert.Equal("MergeTree", (await TableAsync(store, "usage_quarantine")).Engine);
        Assert.Contains("TTL toDateTime(received_time) + toIntervalDay(90)", (await TableAsync(store, "usage_quarantine")).EngineFull);
        Assert.Equal("MaterializedView", (await TableAsync(store, "usage_hourly_mv")).Engine);
        Assert.Equal("MaterializedView", (await TableAsync(store, "usage_daily_mv")).Engine);

        // Money columns are decimals, dimensions low-cardinality strings.
        var types = await ColumnTypesAsync(store, "usage_events");
        Assert.Equal("Decimal(38, 18)", types["cost_usd"]);
        Assert.Equal("LowCardinality(String)", types["model"]);
        Assert.Equal("LowCardinality(String)", types["tenant_id"]);
        Assert.Equal("Decimal(38, 18)", (await ColumnTypesAsync(store, "usage_hourly"))["cost_usd"]);
    }

    [Fact]
    public async Task RetentionFollowsConfiguration()
    {
        using var store = await fixture.NewStoreAsync();

        var shorter = await store.MigratorWith(new AnalyticsOptions { RawRetentionDays = 30, QuarantineRetentionDays = 7 }).MigrateAsync();
        Assert.Equal(["usage_events", "usage_quarantine", "usage_duplicates"], shorter.RetentionChanged);
        Assert.Contains("TTL toDateTime(event_time) + toIntervalDay(30)", (await TableAsync(store, "usage_events")).EngineFull);

        var forever = await store.MigratorWith(new AnalyticsOptions { RawRetentionDays = 0, QuarantineRetentionDays = 7 }).MigrateAsync();
        Assert.Equal(["usage_events"], forever.RetentionChanged);
        Assert.DoesNotContain(" TTL ", (await TableAsync(store, "usage_events")).EngineFull);
    }

    [Fact]
    public async Task ExpiredRawRowsGoAtTheNextMergeWhileRollupsStay()
    {
        using var store = await fixture.NewStoreAsync(new AnalyticsOptions { RawRetentionDays = 30 });
        var now = DateTime.UtcNow;
        await store.Writer.WriteEventsAsync(
        [
            Rows.Event("acme", "old", now.AddDays(-40)),
            Rows.Event("acme", "new", now.AddDays(-1)),
        ]);

        await store.Client.ExecuteNonQueryAsync("OPTIMIZE TABLE usage_events FINAL");

        Assert.Equal(1UL, await store.CountAsync("SELECT count() FROM usage_events"));
        Assert.Equal(2UL, await store.CountAsync("SELECT sum(events) FROM usage_daily"));
    }

    [Fact]
    public async Task AnEditedAppliedMigrationStopsTheStart()
    {
        using var store = await fixture.NewStoreAsync();
        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("name", Migration.All[0].Name);
        await store.Client.ExecuteNonQueryAsync(
            "INSERT INTO tokage_schema_migrations SELECT 1, {name:String}, 'edited', now64(3)", parameters);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.Migrator.MigrateAsync());
        Assert.Contains("0001_usage_events was changed after it was applied", error.Message);
    }

    [Fact]
    public async Task TwoReplicasMigratingAtOnceConverge()
    {
        using var store = await fixture.NewStoreAsync(migrate: false);
        var other = store.MigratorWith(new AnalyticsOptions());

        await Task.WhenAll(store.Migrator.MigrateAsync(), other.MigrateAsync());

        Assert.Equal(Migration.LatestVersion, await store.Migrator.AppliedVersionAsync());
        Assert.Empty((await store.Migrator.MigrateAsync()).Applied);
        await store.Writer.WriteEventsAsync([Rows.Event("acme", "e1", DateTime.UtcNow)]);
        Assert.Equal(1UL, await store.CountAsync("SELECT sum(events) FROM usage_hourly"));
    }

    [Theory]
    [InlineData(5, "usage_daily_compact")]
    [InlineData(6, "usage_daily_user")]
    public async Task ARollupAddedLaterIsBackfilledOnceFromAStoreThatHadUsageBeforeIt(int version, string rollup)
    {
        using var store = await fixture.NewStoreAsync();
        var day = DateTime.UtcNow.Date.AddDays(-3);
        await store.Writer.WriteEventsAsync(Enumerable.Range(0, 40).Select(i => Rows.Event("acme", $"e{i}", day.AddHours(i)) with { UserId = $"u{i % 7}" }).ToList());

        // The store as it was before the migration: no such rollup, no record of the step.
        await store.Client.ExecuteNonQueryAsync($"DROP TABLE {rollup}_mv");
        await store.Client.ExecuteNonQueryAsync($"DROP TABLE {rollup}");
        await store.Client.ExecuteNonQueryAsync($"DELETE FROM tokage_schema_migrations WHERE version = {version}");

        Assert.Equal([version], (await store.Migrator.MigrateAsync()).Applied);
        var compact = $"SELECT sum(events), sum(cost_usd) FROM {rollup}";
        const string daily = "SELECT sum(events), sum(cost_usd) FROM usage_daily";
        Assert.Equal(await PairAsync(store, daily), await PairAsync(store, compact));
        Assert.Equal(40UL, (await PairAsync(store, compact)).Events);

        // A rerun of the step (as after a cut-off start) adds nothing; new usage flows in through the view.
        await store.Client.ExecuteNonQueryAsync($"DELETE FROM tokage_schema_migrations WHERE version = {version}");
        await store.Migrator.MigrateAsync();
        await store.Writer.WriteEventsAsync([Rows.Event("acme", "late", day.AddHours(50))]);
        Assert.Equal(41UL, (await PairAsync(store, compact)).Events);
        Assert.Equal(await PairAsync(store, daily), await PairAsync(store, compact));
    }

    [Fact]
    public void MigrationFilesSplitIntoStatements()
    {
        var migration = Migration.Parse("0007_two_things", "-- a comment; with a semicolon\nCREATE TABLE a (x UInt8)\nENGINE = Memory;\n\nCREATE VIEW b AS SELECT 1;\n");
        Assert.Equal(7, migration.Version);
        Assert.Equal("two_things", migration.Name);
        Assert.Equal(["CREATE TABLE a (x UInt8)\nENGINE = Memory", "CREATE VIEW b AS SELECT 1"], migration.Statements);

        Assert.Throws<FormatException>(() => Migration.Parse("0008_open", "CREATE TABLE a (x UInt8) ENGINE = Memory"));
        Assert.Throws<FormatException>(() => Migration.Parse("nonumber", "SELECT 1;"));
        Assert.Equal(Enumerable.Range(1, Migration.All.Count), Migration.All.Select(m => m.Version));
    }

    private static async Task<(string Engine, string EngineFull, string SortingKey, string PartitionKey)> TableAsync(UsageStore store, string name)
    {
        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("name", name);
        using var reader = await store.Client.ExecuteReaderAsync(
            "SELECT engine, engine_full, sorting_key, partition_key FROM system.tables WHERE database = currentDatabase() AND name = {name:String}", parameters);
        Assert.True(reader.Read(), $"table {name} exists");
        return (reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3));
    }

    private static async Task<(ulong Events, decimal Cost)> PairAsync(UsageStore store, string sql)
    {
        using var reader = await store.Client.ExecuteReaderAsync(sql);
        Assert.True(reader.Read());
        return (Convert.ToUInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture), reader.GetDecimal(1));
    }

    private static async Task<Dictionary<string, string>> ColumnTypesAsync(UsageStore store, string table)
    {
        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("table", table);
        var types = new Dictionary<string, string>();
        using var reader = await store.Client.ExecuteReaderAsync(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {table:String}", parameters);
        while (reader.Read())
        {
            types[reader.GetString(0)] = reader.GetString(1);
        }

        return types;
    }
}
