using System.Diagnostics.Metrics;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using Tokage.Analytics;
using Tokage.Analytics.Queries;
using Tokage.Contracts.V1;
using Tokage.EventLog;
using Tokage.EventProcessor.Archive;
using Tokage.Pricing;

namespace Tokage.EventProcessor.Processing;

/// <summary>What became of one batch's records; every record ends in exactly one of these.</summary>
public sealed record BatchResult(int Stored, int AlreadyStored, int Duplicates, IReadOnlyList<(ConsumedRecord Record, string Reason)> Quarantined)
{
    public int Total => Stored + AlreadyStored + Duplicates + Quarantined.Count;
}

/// <summary>A batch ready for ClickHouse: its rows (and their log range, the archive files' name and the insert's token), duplicates and quarantined records (the archive is written).</summary>
public sealed record PreparedBatch(
    IReadOnlyList<ConsumedRecord> Records, IReadOnlyList<UsageEventRow> Rows, string RowsToken, IReadOnlyList<DuplicateRow> Duplicates,
    IReadOnlyList<QuarantineRow> Quarantine, BatchResult Result);

/// <summary>
/// One batch of log records, start to end but the commit: decode and check each record (a bad one is quarantined
/// with its reason, never dropped), claim its (tenant, event id), price it from the book at the event's time,
/// classify it, then write the archive and ClickHouse. It is safe to run again on the same records — after a
/// failure, or a crash before the commit — and the effect is the same: a replayed record whose row is already in
/// ClickHouse is not written again, and each write carries a token named after exactly the records it holds.
/// </summary>
public sealed class BatchProcessor(
    DedupeClaims claims,
    ReservationSettlements settlements,
    PriceBook prices,
    EventClassifier classifier,
    UsageEventWriter writer,
    EventLookups lookups,
    ParquetArchive archive,
    IOptions<ProcessorOptions> options,
    TimeProvider time,
    IMeterFactory meters,
    ILogger<BatchProcessor> logger)
{
    public const uint SchemaVersion = 1;

    private readonly Counter<long> outcomes = meters.Create("Tokage.EventProcessor").CreateCounter<long>("tokage.processor.records", description: "Log records processed, by outcome.");
    private readonly Counter<long> quarantinedReasons = meters.Create("Tokage.EventProcessor").CreateCounter<long>("tokage.processor.quarantined", description: "Log records quarantined, by reason.");
    private readonly Histogram<long> batchSizes = meters.Create("Tokage.EventProcessor").CreateHistogram<long>("tokage.processor.batch.size", unit: "{record}", description: "Log records in each processed batch.");
    private readonly Histogram<double> insertDurations = meters.Create("Tokage.EventProcessor").CreateHistogram<double>("tokage.clickhouse.insert.duration", unit: "s", description: "Time to write a batch's rows (and their rollups' views) into ClickHouse.");

    /// <summary>The whole batch: <see cref="PrepareAsync"/>, then <see cref="WriteAsync"/>.</summary>
    public async Task<BatchResult> ProcessAsync(IReadOnlyList<ConsumedRecord> records, CancellationToken cancellationToken)
    {
        var prepared = await PrepareAsync(records, cancellationToken);
        await WriteAsync(prepared, cancellationToken);
        return prepared.Result;
    }

    /// <summary>
    /// Everything but the ClickHouse write: decode, check, claim, price, classify, and the archive (which precedes
    /// ClickHouse: a crash after it and before ClickHouse replays the batch, which rewrites the same files).
    /// </summary>
    public async Task<PreparedBatch> PrepareAsync(IReadOnlyList<ConsumedRecord> records, CancellationToken cancellationToken)
    {
        // A rebalance in the middle of a read can hand the same offset back: one record per log position.
        records = records.DistinctBy(r => r.Position).ToList();
        var now = time.GetUtcNow().UtcDateTime;
        var decoded = new List<(ConsumedRecord Record, LoggedUsageEvent Logged)>(records.Count);
        var quarantine = new List<QuarantineRow>();
        var quarantined = new List<(ConsumedRecord, string)>();
        foreach (var record in records)
        {
            if (Decode(record, now, out var logged) is { } problem)
            {
                // Quarantine keeps the record to explain it, never a personal value the store would have pseudonymised.
                quarantine.Add(logged is null ? problem : problem with { Payload = JsonFormatter.Default.Format(classifier.Masked(logged)) });
                quarantined.Add((record, $"{problem.Reason}: {problem.Detail}"));
            }
            else
            {
                decoded.Add((record, logged!));
            }
        }

        var claimed = await claims.ClaimAsync(
            decoded.Select(d => (d.Logged.TenantId, d.Logged.Event.EventId, d.Record.Position)).ToList(), options.Value.DedupeWindow);
        var stored = await StoredAlreadyAsync(decoded, claimed, cancellationToken);

        var rows = new List<UsageEventRow>(decoded.Count);
        var duplicates = new List<DuplicateRow>();
        var alreadyStored = 0;
        for (var i = 0; i < decoded.Count; i++)
        {
            var (record, logged) = decoded[i];
            switch (claimed[i].Result)
            {
                case ClaimResult.Duplicate:
                    duplicates.Add(Duplicate(record, logged, claimed[i].FirstPosition));
                    break;

                // The claim store may have forgotten (a Redis without persistence, a failover, a replayed log): what
                // ClickHouse holds decides. This very record again is already stored; another record is a duplicate.
                case ClaimResult.New or ClaimResult.Replay when stored.TryGetValue(KeyOf(logged), out var storedAt):
                    if (storedAt == record.Position)
                    {
                        alreadyStored++;
                    }
                    else
                    {
                        duplicates.Add(Duplicate(record, logged, storedAt));
                    }

                    break;
                default:
                    rows.Add(ToRow(record, logged));
                    break;
            }
        }

        var rowsToken = LogRange.Token(rows.Select(r => r.LogPosition).ToList(), rows.Select(r => $"{r.TenantId}/{r.EventId}"));
        if (options.Value.Archive && rows.Count > 0)
        {
            await archive.WriteAsync(rows, rowsToken, cancellationToken);
        }

        return new PreparedBatch(records, rows, rowsToken, duplicates, quarantine, new BatchResult(rows.Count, alreadyStored, duplicates.Count, quarantined));
    }

    /// <summary>The ClickHouse writes, each under a token named after exactly its records: safe to repeat.</summary>
    public async Task WriteAsync(PreparedBatch batch, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await writer.WriteEventsAsync(batch.Rows, batch.RowsToken, cancellationToken);
        insertDurations.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        await SettleReservationsAsync(batch.Rows);
        await writer.WriteDuplicatesAsync(batch.Duplicates,
            LogRange.Token(batch.Duplicates.Select(r => r.LogPosition).ToList(), batch.Duplicates.Select(r => $"{r.TenantId}/{r.EventId}/{r.DuplicateOf}")), cancellationToken);
        await writer.WriteQuarantineAsync(batch.Quarantine,
            LogRange.Token(batch.Quarantine.Select(r => r.LogPosition).ToList(), batch.Quarantine.Select(r => $"{r.TenantId}/{r.EventId}/{r.Reason}/{r.Payload.Length}")), cancellationToken);

        var result = batch.Result;
        outcomes.Add(result.Stored, new KeyValuePair<string, object?>("outcome", "stored"));
        outcomes.Add(result.AlreadyStored, new KeyValuePair<string, object?>("outcome", "already_stored"));
        outcomes.Add(result.Duplicates, new KeyValuePair<string, object?>("outcome", "duplicate"));
        outcomes.Add(result.Quarantined.Count, new KeyValuePair<string, object?>("outcome", "quarantined"));
        foreach (var reason in result.Quarantined.GroupBy(q => q.Reason))
        {
            quarantinedReasons.Add(reason.Count(), new KeyValuePair<string, object?>("reason", reason.Key));
        }

        batchSizes.Record(result.Total);
    }

    /// <summary>
    /// Only now are the rows and their rollups in: the reservations they name stop holding budget room. A mark that
    /// cannot be written leaves the reservation holding room until it expires, which errs on the side of the limit.
    /// </summary>
    private async Task SettleReservationsAsync(IReadOnlyList<UsageEventRow> rows)
    {
        var settled = rows.Where(r => r.ReservationId.Length > 0).Select(r => (r.TenantId, r.ReservationId)).ToList();
        try
        {
            await settlements.MarkAsync(settled);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            logger.LogWarning("Could not mark {Count} budget reservation(s) settled ({Error}); they hold room until they expire.", settled.Count, ex.Message);
        }
    }

    /// <summary>
    /// Of the records the claims let through (new, or their own earlier claim), the ones ClickHouse already has a row
    /// for, with that row's log position. Asking ClickHouse for every one, not only for replays, is what keeps the
    /// rollups exact when the claims are lost: the materialized views count every inserted row, FINAL or not.
    /// </summary>
    private async Task<Dictionary<StoredEventKey, string>> StoredAlreadyAsync(
        List<(ConsumedRecord Record, LoggedUsageEvent Logged)> decoded, Claim[] claimed, CancellationToken cancellationToken)
    {
        var keys = decoded.Where((_, i) => claimed[i].Result != ClaimResult.Duplicate).Select(d => KeyOf(d.Logged)).ToList();
        return await lookups.StoredPositionsAsync(keys, cancellationToken);
    }

    private static DuplicateRow Duplicate(ConsumedRecord record, LoggedUsageEvent logged, string duplicateOf) => new()
    {
        TenantId = logged.TenantId, EventId = logged.Event.EventId, ReceivedTime = logged.ReceivedAt.ToDateTime(),
        Source = logged.Source, LogPosition = record.Position, DuplicateOf = duplicateOf,
    };

    private static StoredEventKey KeyOf(LoggedUsageEvent logged) =>
        StoredEventKey.Of(logged.TenantId, logged.Event.Timestamp.ToDateTime(), logged.Event.EventId);

    private UsageEventRow ToRow(ConsumedRecord record, LoggedUsageEvent logged)
    {
        var e = logged.Event;
        var usage = e.Usage;
        var at = e.Timestamp.ToDateTimeOffset();
        var (tokens, units) = (Counts(usage), Units(usage) ?? default);
        // Usage the sender could not know is not priced as zero tokens.
        var priced = EventPricing.IsUsageMissing(e.Metadata) ? null : prices.Price(logged.TenantId, e.Provider, e.Model, at, tokens, units, e.ServiceTier);
        var cost = priced?.CostUsd ?? 0m;
        var price = priced?.Answer;

        var classified = classifier.Classify(logged.TenantId, e.UserId, e.Metadata, cost);
        var received = logged.ReceivedAt.ToDateTime();
        return new UsageEventRow
        {
            TenantId = logged.TenantId,
            EventId = e.EventId,
            EventTime = at.UtcDateTime,
            IngestTime = received,
            IngestVersion = (ulong)(received - DateTime.UnixEpoch).Ticks,
            Source = logged.Source,
            Provider = e.Provider,
            Model = e.Model,
            ServiceTier = e.ServiceTier.Length == 0 ? "standard" : e.ServiceTier,
            Application = e.Application,
            Project = e.Project,
            UserId = classified.UserId,
            Team = e.Team,
            Environment = e.Environment,
            Customer = e.Customer,
            ReservationId = e.ReservationId,
            InputTokens = (ulong)usage.InputTokens,
            CacheReadTokens = (ulong)usage.CacheReadTokens,
            CacheWriteTokens = (ulong)usage.CacheWriteTokens,
            CacheWrite1hTokens = (ulong)usage.CacheWrite1HTokens,
            OutputTokens = (ulong)usage.OutputTokens,
            ReasoningTokens = (ulong)usage.ReasoningTokens,
            Modalities = new ModalityTokens(
                (ulong)usage.AudioInputTokens, (ulong)usage.ImageInputTokens, (ulong)usage.VideoInputTokens, (ulong)usage.AudioCacheReadTokens,
                (ulong)usage.ImageCacheReadTokens, (ulong)usage.AudioCacheWriteTokens, (ulong)usage.AudioOutputTokens, (ulong)usage.ImageOutputTokens),
            Images = (ulong)units.Images,
            AudioSeconds = units.AudioSeconds,
            WebSearchQueries = (ulong)units.WebSearchQueries,
            Priced = price is not null,
            CostUsd = cost,
            PriceVersionId = price?.Version.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
            PricedModel = price?.Version.ModelKey ?? "",
            Classification = classified.Classification,
            TraceId = e.TraceId,
            SpanId = e.SpanId,
            LogPosition = record.Position,
            Metadata = classified.Metadata,
        };
    }

    /// <summary>Why a record cannot be stored as usage, or null when it can.</summary>
    private static QuarantineRow? Decode(ConsumedRecord record, DateTime now, out LoggedUsageEvent? logged)
    {
        logged = null;
        try
        {
            logged = LoggedUsageEvent.Parser.ParseFrom(record.Value);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return Quarantine(record, now, null, "undecodable", $"Not a LoggedUsageEvent: {ex.Message}", Convert.ToBase64String(record.Value));
        }

        if (logged.SchemaVersion != SchemaVersion)
        {
            return Quarantine(record, now, logged, "unknown_schema_version", $"Schema version {logged.SchemaVersion}; this processor reads {SchemaVersion}.");
        }

        return Problem(logged, record.Key) is { } problem ? Quarantine(record, now, logged, "invalid", problem) : null;
    }

    /// <summary>
    /// The ingest validated every event before logging it; these are the facts the processor itself relies on,
    /// checked again because a record may come from another writer or an older ingest.
    /// </summary>
    private static string? Problem(LoggedUsageEvent logged, string key)
    {
        var e = logged.Event;
        var u = e?.Usage;
        return logged.TenantId.Length == 0 ? "The record names no tenant."
            : logged.TenantId != key ? $"The record's tenant '{logged.TenantId}' is not its log key '{key}'."
            : logged.ReceivedAt is null ? "The record has no received_at."
            : e is null ? "The record carries no event."
            : e.EventId.Length == 0 ? "The event has no event_id."
            : e.Timestamp is null ? "The event has no timestamp."
            // Spans may name neither (stored unpriced, never dropped); a native event names both.
            : (e.Provider.Length == 0 || e.Model.Length == 0) && logged.Source != "otlp" ? "The event names no provider or model."
            : !ServiceTiers.IsNamed(e.ServiceTier) ? $"Unknown service tier '{e.ServiceTier}'."
            : u is null ? "The event has no usage."
            : u.InputTokens < 0 || u.CacheReadTokens < 0 || u.CacheWriteTokens < 0 || u.CacheWrite1HTokens < 0 || u.OutputTokens < 0 || u.ReasoningTokens < 0
                ? "A token count is negative."
            : (decimal)u.CacheReadTokens + u.CacheWriteTokens + u.CacheWrite1HTokens > u.InputTokens ? "Cache tokens exceed input tokens (input counts them)."
            : u.ReasoningTokens > u.OutputTokens ? "Reasoning tokens exceed output tokens (output counts them)."
            : Counts(u) is var counts && counts.Modalities.Misfit(counts) is { } misfit ? $"The modality counts do not fit: {misfit}."
            : u.Images < 0 || u.WebSearchQueries < 0 || Units(u) is null ? "A unit count (images, audio_seconds, web_search_queries) is negative or not a number."
            : null;
    }

    /// <summary>The event's units (images, seconds, searches); null when the seconds are not a non-negative decimal.</summary>
    private static UnitCounts? Units(Contracts.V1.TokenUsage u)
    {
        var seconds = 0m;
        return u.AudioSeconds.Length == 0
            || decimal.TryParse(u.AudioSeconds, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out seconds) && seconds >= 0m
            ? new UnitCounts(u.Images, seconds, u.WebSearchQueries)
            : null;
    }

    /// <summary>The event's counts as the cost formula takes them, text and the other modalities.</summary>
    private static TokenCounts Counts(Contracts.V1.TokenUsage u) => new(
        u.InputTokens, u.CacheReadTokens, u.CacheWriteTokens, u.CacheWrite1HTokens, u.OutputTokens, u.ReasoningTokens,
        new ModalityCounts(u.AudioInputTokens, u.ImageInputTokens, u.VideoInputTokens, u.AudioCacheReadTokens, u.ImageCacheReadTokens,
            u.AudioCacheWriteTokens, u.AudioOutputTokens, u.ImageOutputTokens));

    private static QuarantineRow Quarantine(ConsumedRecord record, DateTime now, LoggedUsageEvent? logged, string reason, string detail, string? payload = null) => new()
    {
        TenantId = logged?.TenantId ?? record.Key,
        EventId = logged?.Event?.EventId ?? "",
        ReceivedTime = logged?.ReceivedAt?.ToDateTime() ?? now,
        Source = logged?.Source ?? "",
        Reason = reason,
        Detail = detail,
        Payload = payload ?? JsonFormatter.Default.Format(logged),
        LogPosition = record.Position,
    };
}
