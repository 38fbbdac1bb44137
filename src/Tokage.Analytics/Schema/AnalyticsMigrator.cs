using System.Globalization;
using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Utility;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tokage.Analytics.Schema;

/// <summary>
/// Brings the usage store to the latest schema: applies the migrations not yet recorded in
/// <c>tokage_schema_migrations</c>, refuses to start on an applied migration whose text changed, then
/// sets the retention TTLs from configuration.
/// </summary>
public sealed class AnalyticsMigrator(ClickHouseClient client, IOptions<AnalyticsOptions> options, ILogger<AnalyticsMigrator> logger)
{
    internal const string HistoryTable = "tokage_schema_migrations";

    public async Task<MigrationReport> MigrateAsync(CancellationToken cancellationToken = default)
    {
        await client.ExecuteNonQueryAsync($"""
            CREATE TABLE IF NOT EXISTS {HistoryTable}
            (
                version    UInt32,
                name       String,
                checksum   String,
                applied_at DateTime64(3, 'UTC')
            )
            ENGINE = ReplacingMergeTree
            ORDER BY version
            """, cancellationToken: cancellationToken);

        var applied = await ReadHistoryAsync(cancellationToken);
        var newlyApplied = new List<int>();
        foreach (var migration in Migration.All)
        {
            if (applied.TryGetValue(migration.Version, out var checksum))
            {
                if (checksum != migration.Checksum)
                {
                    throw new InvalidOperationException(
                        $"Analytics migration {migration.Version:D4}_{migration.Name} was changed after it was applied " +
                        $"(recorded checksum {checksum}, shipped {migration.Checksum}). Applied migrations are never edited: add a new one.");
                }

                continue;
            }

            logger.LogInformation("Applying analytics migration {Version:D4}_{Name} ({Count} statements).", migration.Version, migration.Name, migration.Statements.Count);
            foreach (var statement in migration.Statements)
            {
                await client.ExecuteNonQueryAsync(statement, cancellationToken: cancellationToken);
            }

            var record = new ClickHouseParameterCollection();
            record.AddParameter("version", (uint)migration.Version);
            record.AddParameter("name", migration.Name);
            record.AddParameter("checksum", migration.Checksum);
            await client.ExecuteNonQueryAsync(
                $"INSERT INTO {HistoryTable} SELECT {{version:UInt32}}, {{name:String}}, {{checksum:String}}, now64(3)",
                record, cancellationToken: cancellationToken);
            newlyApplied.Add(migration.Version);
        }

        var settings = options.Value;
        var ttlChanges = new List<string>();
        if (await ApplyRetentionAsync("usage_events", "event_time", settings.RawRetentionDays, cancellationToken))
        {
            ttlChanges.Add("usage_events");
        }

        // Duplicates are audit records of the same kind as quarantined ones: kept as long.
        foreach (var table in new[] { "usage_quarantine", "usage_duplicates" })
        {
            if (await ApplyRetentionAsync(table, "received_time", settings.QuarantineRetentionDays, cancellationToken))
            {
                ttlChanges.Add(table);
            }
        }

        return new MigrationReport(Migration.LatestVersion, newlyApplied, ttlChanges);
    }

    /// <summary>The highest migration version recorded, 0 when none is.</summary>
    public async Task<int> AppliedVersionAsync(CancellationToken cancellationToken = default)
    {
        var exists = Convert.ToUInt64(await client.ExecuteScalarAsync(
            $"SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = '{HistoryTable}'",
            cancellationToken: cancellationToken), CultureInfo.InvariantCulture);
        return exists == 0
            ? 0
            : Convert.ToInt32(await client.ExecuteScalarAsync($"SELECT max(version) FROM {HistoryTable}", cancellationToken: cancellationToken), CultureInfo.InvariantCulture);
    }

    private async Task<Dictionary<int, string>> ReadHistoryAsync(CancellationToken cancellationToken)
    {
        var applied = new Dictionary<int, string>();
        using var reader = await client.ExecuteReaderAsync($"SELECT version, checksum FROM {HistoryTable} FINAL", cancellationToken: cancellationToken);
        while (reader.Read())
        {
            applied[Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture)] = reader.GetString(1);
        }

        return applied;
    }

    /// <summary>Sets (or removes, for 0 days) the table's TTL when it differs from configuration; true when it changed.</summary>
    private async Task<bool> ApplyRetentionAsync(string table, string timeColumn, int days, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(days, $"{AnalyticsOptions.SectionName} retention of {table}");
        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("table", table);
        var engine = (string)(await client.ExecuteScalarAsync(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}",
            parameters, cancellationToken: cancellationToken))!;

        // ClickHouse writes the TTL back as "TTL toDateTime(col) + toIntervalDay(N)".
        var wanted = $"TTL toDateTime({timeColumn}) + toIntervalDay({days.ToString(CultureInfo.InvariantCulture)})";
        var hasTtl = engine.Contains(" TTL ", StringComparison.Ordinal);
        if (days == 0 ? !hasTtl : engine.Contains(wanted, StringComparison.Ordinal))
        {
            return false;
        }

        // Expired rows go at the next merges; rewriting every part now would stall a large table.
        var options = new QueryOptions { CustomSettings = new Dictionary<string, object> { ["materialize_ttl_after_modify"] = 0 } };
        var statement = days == 0
            ? $"ALTER TABLE {table} REMOVE TTL"
            : $"ALTER TABLE {table} MODIFY TTL toDateTime({timeColumn}) + INTERVAL {days.ToString(CultureInfo.InvariantCulture)} DAY";
        await client.ExecuteNonQueryAsync(statement, options: options, cancellationToken: cancellationToken);
        logger.LogInformation("Retention of {Table} set to {Days} days (0: kept forever).", table, days);
        return true;
    }
}

/// <summary>What a migration run did: the schema version reached, the versions applied now, the tables whose TTL changed.</summary>
public sealed record MigrationReport(int Version, IReadOnlyList<int> Applied, IReadOnlyList<string> RetentionChanged);
