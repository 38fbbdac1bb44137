using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Tokage.Audit;
using Tokage.Pricing;
using Tokage.PriceRegistry.Repricing;

namespace Tokage.PriceRegistry.Prices;

/// <summary>
/// Price versions in PostgreSQL: an append-only table (the database migrator makes it, with a trigger that refuses
/// UPDATE and DELETE; this service's role may only SELECT and INSERT), seeded once, under an advisory lock so replicas
/// starting together seed it once. Every write takes the same
/// transaction-scoped lock, so ids commit in order (a reader that sees id N sees every id below it), and notifies
/// <see cref="Channel"/> inside its transaction, so listeners hear of it only once it is visible.
/// </summary>
public sealed class PriceStore(NpgsqlDataSource dataSource, ILogger<PriceStore> logger)
{
    /// <summary>The NOTIFY channel of new versions; the payload (the highest id) is a hint only, readers re-read <c>id &gt; cursor</c>.</summary>
    public const string Channel = "tokage_price_versions";

    private const string WriteLock = "SELECT pg_advisory_xact_lock(hashtext('tokage.price_versions'))";

    private const string Columns = "id, tenant_id, model_key, provider, effective_from, prices::text, source, corrects";

    /// <summary>
    /// Seeds the table (which the database migrator makes) from the shipped data when it is empty; returns the versions
    /// written. Until the migrator has run, this fails and the service stays not-ready.
    /// </summary>
    public async Task<int> SeedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Execute(connection, WriteLock, cancellationToken);
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

        await AuditOutbox.AppendAsync(connection, transaction,
            AuditChange.Of<object>(null, AuditKinds.PricesSeeded, "prices:seed", null, new { versions = seed.Count, source = "the shipped LiteLLM price data" }),
            AuditActor.OfService("price-registry"), cancellationToken);
        await Notify(connection, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Price registry seeded with {Count} versions from the shipped LiteLLM data.", seed.Count);
        return seed.Count;
    }

    /// <summary>Every version, public and overrides.</summary>
    public Task<List<PriceVersion>> LoadAsync(CancellationToken cancellationToken) => LoadAfterAsync(0, cancellationToken);

    /// <summary>The versions with an id above <paramref name="afterId"/>, in id order.</summary>
    public async Task<List<PriceVersion>> LoadAfterAsync(long afterId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM price_versions WHERE id > $1 ORDER BY id");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterId });
        return await ReadAll(command, cancellationToken);
    }

    /// <summary>
    /// Appends one version; null when (tenant, model, effective_from) already has one (<paramref name="existing"/> names it).
    /// A version in effect before <paramref name="now"/> queues a repricing of the events stored unpriced since then.
    /// </summary>
    public async Task<(PriceVersion? Added, PriceVersion? Existing, RepricingJob? Repricing)> AddAsync(
        PriceVersion version, DateTimeOffset now, AuditActor actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Execute(connection, WriteLock, cancellationToken);
        await using (var insert = new NpgsqlCommand(
            $"""
            INSERT INTO price_versions (tenant_id, model_key, provider, effective_from, prices, source)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6)
            ON CONFLICT (tenant_id, model_key, effective_from) WHERE corrects IS NULL DO NOTHING
            RETURNING {Columns}
            """, connection))
        {
            AddVersionParameters(insert, version);
            if ((await ReadAll(insert, cancellationToken)) is [var added])
            {
                var repricing = added.EffectiveFrom < now
                    ? await RepricingStore.QueueAsync(connection, RepricingKind.Unpriced, added.Id, null, added.TenantId, added.EffectiveFrom, cancellationToken)
                    : null;
                await AuditOutbox.AppendAsync(connection, transaction,
                    AuditChange.Of(TenantOf(added), AuditKinds.PriceAdded, $"price_version:{added.Id}", null, added), actor, cancellationToken);
                await Notify(connection, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return (added, null, repricing);
            }
        }

        await using var find = new NpgsqlCommand($"SELECT {Columns} FROM price_versions WHERE tenant_id = $1 AND model_key = $2 AND effective_from = $3 AND corrects IS NULL", connection);
        find.Parameters.Add(new NpgsqlParameter<string> { TypedValue = version.TenantId });
        find.Parameters.Add(new NpgsqlParameter<string> { TypedValue = version.ModelKey });
        find.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = version.EffectiveFrom.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        var existing = (await ReadAll(find, cancellationToken)).Single();
        await transaction.CommitAsync(cancellationToken);
        return (null, existing, null);
    }

    /// <summary>
    /// Corrects version <paramref name="versionId"/> (or, when it is itself a correction, the version it corrects): a
    /// new version at the same instant with <paramref name="prices"/>, in effect there from now on, and a repricing of
    /// the events the corrected version priced, in one transaction. Null when no such version exists.
    /// </summary>
    public async Task<(PriceVersion Correction, RepricingJob Repricing)?> CorrectAsync(long versionId, IReadOnlyDictionary<string, string> prices, string source,
        AuditActor actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Execute(connection, WriteLock, cancellationToken);
        await using var find = new NpgsqlCommand(
            $"SELECT {Columns} FROM price_versions WHERE id = (SELECT coalesce(corrects, id) FROM price_versions WHERE id = $1)", connection);
        find.Parameters.Add(new NpgsqlParameter<long> { TypedValue = versionId });
        if ((await ReadAll(find, cancellationToken)) is not [var corrected])
        {
            return null;
        }

        await using var insert = new NpgsqlCommand(
            $"""
            INSERT INTO price_versions (tenant_id, model_key, provider, effective_from, prices, source, corrects)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
            RETURNING {Columns}
            """, connection);
        AddVersionParameters(insert, corrected with { Prices = prices, Source = source });
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = corrected.Id });
        var correction = (await ReadAll(insert, cancellationToken)).Single();
        var repricing = await RepricingStore.QueueAsync(connection, RepricingKind.Correction, correction.Id, corrected.Id, corrected.TenantId,
            corrected.EffectiveFrom, cancellationToken);
        await AuditOutbox.AppendAsync(connection, transaction,
            AuditChange.Of(TenantOf(corrected), AuditKinds.PriceCorrected, $"price_version:{corrected.Id}", corrected, correction), actor, cancellationToken);
        await Notify(connection, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Price version {Version} ({Model}) corrected by {Correction}; repricing {Repricing} queued.",
            corrected.Id, corrected.ModelKey, correction.Id, repricing.Id);
        return (correction, repricing);
    }

    /// <summary>
    /// Diffs a price document against the public versions in effect at <paramref name="effectiveFrom"/> and, unless a
    /// dry run, appends a version for each added or changed model, all in one transaction under the write lock
    /// (so the diff is against what is committed, whichever replica wrote it).
    /// </summary>
    public async Task<ImportResult> ImportAsync(IReadOnlyList<ImportedModel> document, DateTimeOffset effectiveFrom, bool dryRun, DateTimeOffset now,
        AuditActor actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Execute(connection, WriteLock, cancellationToken);

        List<PriceVersion> inEffect;
        await using (var current = new NpgsqlCommand(
            $"""
            SELECT DISTINCT ON (model_key) {Columns} FROM price_versions
            WHERE tenant_id = '' AND effective_from <= $1
            ORDER BY model_key, effective_from DESC, id DESC
            """, connection))
        {
            current.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = effectiveFrom.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            inEffect = await ReadAll(current, cancellationToken);
        }

        var result = PriceImport.Diff(document, inEffect, effectiveFrom);
        var writes = result.Models.Where(m => m.Change is ImportChange.Added or ImportChange.Changed).ToList();
        if (dryRun || writes.Count == 0)
        {
            await transaction.CommitAsync(cancellationToken);
            return result;
        }

        await using (var insert = new NpgsqlCommand(
            $"""
            INSERT INTO price_versions (model_key, provider, effective_from, prices, source)
            SELECT m, p, $4, j::jsonb, 'import' FROM unnest($1::text[], $2::text[], $3::text[]) AS rows (m, p, j)
            RETURNING {Columns}
            """, connection))
        {
            insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. writes.Select(w => w.Model)] });
            insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. writes.Select(w => w.Provider)] });
            insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. writes.Select(w => JsonSerializer.Serialize(w.After))] });
            insert.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = effectiveFrom.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            var ids = (await ReadAll(insert, cancellationToken)).ToDictionary(v => v.ModelKey, v => v.Id, StringComparer.Ordinal);
            result = result with { Models = [.. result.Models.Select(m => ids.TryGetValue(m.Model, out var id) && m.Change != ImportChange.Conflict ? m with { VersionId = id } : m)] };

            // Models new to the registry may price events stored unpriced since the document took effect.
            if (result.Added > 0 && effectiveFrom < now)
            {
                var repricing = await RepricingStore.QueueAsync(connection, RepricingKind.Unpriced, ids.Values.Max(), null, "", effectiveFrom, cancellationToken);
                result = result with { RepricingId = repricing.Id };
            }

            // One record for the import, naming every version it wrote.
            var versions = writes.Select(w => new { version_id = ids[w.Model], model = w.Model, provider = w.Provider, change = w.Change.ToString().ToLowerInvariant(), prices = w.After, fields = w.Fields });
            await AuditOutbox.AppendAsync(connection, transaction,
                AuditChange.Of<object>(null, AuditKinds.PricesImported, $"prices:import@{effectiveFrom:O}", null,
                    new { effective_from = effectiveFrom, added = result.Added, changed = result.Changed, versions }),
                actor, cancellationToken);
        }

        await Notify(connection, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Price import at {EffectiveFrom:O}: {Added} added, {Changed} changed, {Unchanged} unchanged.",
            effectiveFrom, result.Added, result.Changed, result.Unchanged);
        return result;
    }

    /// <summary>An override's tenant; null (the platform's chain) for a public version.</summary>
    private static Guid? TenantOf(PriceVersion version) => Guid.TryParse(version.TenantId, out var tenant) ? tenant : null;

    private static void AddVersionParameters(NpgsqlCommand command, PriceVersion version)
    {
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = version.TenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = version.ModelKey });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = version.Provider });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = version.EffectiveFrom.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = JsonSerializer.Serialize(version.Prices) });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = version.Source });
    }

    private static async Task<List<PriceVersion>> ReadAll(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var versions = new List<PriceVersion>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            versions.Add(new PriceVersion(
                Id: reader.GetInt64(0),
                ModelKey: reader.GetString(2),
                Provider: reader.GetString(3),
                EffectiveFrom: reader.GetFieldValue<DateTimeOffset>(4),
                Prices: JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(5))!,
                Source: reader.GetString(6),
                TenantId: reader.GetString(1),
                Corrects: reader.IsDBNull(7) ? null : reader.GetInt64(7)));
        }

        return versions;
    }

    private static Task Notify(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        Execute(connection, $"SELECT pg_notify('{Channel}', coalesce(max(id), 0)::text) FROM price_versions", cancellationToken);

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
