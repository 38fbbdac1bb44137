using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Tokage.Pricing;

namespace Tokage.PriceRegistry.Prices;

/// <summary>
/// Price versions in PostgreSQL: an append-only table (a trigger refuses UPDATE and DELETE), created and seeded
/// once, under an advisory lock so replicas starting together seed it once.
/// </summary>
public sealed class PriceStore(NpgsqlDataSource dataSource, ILogger<PriceStore> logger)
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS price_versions (
            id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            model_key      text NOT NULL,
            provider       text NOT NULL,
            effective_from timestamptz NOT NULL,
            prices         jsonb NOT NULL,
            source         text NOT NULL,
            recorded_at    timestamptz NOT NULL DEFAULT now(),
            UNIQUE (model_key, effective_from)
        );
        CREATE OR REPLACE FUNCTION tokage_price_versions_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'price versions are never rewritten: add a new version instead';
        END $$;
        DROP TRIGGER IF EXISTS price_versions_are_kept ON price_versions;
        CREATE TRIGGER price_versions_are_kept BEFORE UPDATE OR DELETE ON price_versions
            FOR EACH ROW EXECUTE FUNCTION tokage_price_versions_are_kept();
        """;

    /// <summary>Creates the table and seeds it from the shipped data when it is empty; returns the versions written.</summary>
    public async Task<int> MigrateAndSeedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Execute(connection, "SELECT pg_advisory_xact_lock(hashtext('tokage.price_versions'))", cancellationToken);
        await Execute(connection, Schema, cancellationToken);
        await using (var any = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM price_versions)", connection))
        {
            if ((bool)(await any.ExecuteScalarAsync(cancellationToken))!)
            {
                await transaction.CommitAsync(cancellationToken);
                return 0;
            }
        }

        var seed = PriceSeed.Build();
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY price_versions (model_key, provider, effective_from, prices, source) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            foreach (var version in seed)
            {
                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(version.ModelKey, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(version.Provider, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(version.EffectiveFrom.UtcDateTime, NpgsqlDbType.TimestampTz, cancellationToken);
                await copy.WriteAsync(JsonSerializer.Serialize(version.Prices), NpgsqlDbType.Jsonb, cancellationToken);
                await copy.WriteAsync(version.Source, NpgsqlDbType.Text, cancellationToken);
            }

            await copy.CompleteAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Price registry seeded with {Count} versions from the shipped LiteLLM data.", seed.Count);
        return seed.Count;
    }

    public async Task<List<PriceVersion>> LoadAsync(CancellationToken cancellationToken)
    {
        var versions = new List<PriceVersion>();
        await using var command = dataSource.CreateCommand(
            "SELECT id, model_key, provider, effective_from, prices::text, source FROM price_versions ORDER BY model_key, effective_from");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            versions.Add(new PriceVersion(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3),
                JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(4))!, reader.GetString(5)));
        }

        return versions;
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
