using Google.Protobuf;
using Tokage.EventLog;
using Tokage.EventProcessor.Processing;

namespace Tokage.EventProcessor.Tests;

/// <summary>One batch at a time through the real log, claims, ClickHouse and archive: pricing, dedupe, replay, quarantine.</summary>
public sealed class BatchProcessorTests(ProcessorFixture fixture) : IClassFixture<ProcessorFixture>
{
    private readonly string tenant = Guid.NewGuid().ToString();

    [Fact]
    public async Task AnEventIsStoredWithTheServersCostInExactDecimal()
    {
        await using var pipeline = await fixture.NewPipelineAsync();
        await pipeline.AppendAsync(Logged.Event(tenant, "req-1", new DateTimeOffset(2026, 11, 20, 10, 15, 2, TimeSpan.Zero)));

        var result = await pipeline.ReadAndProcessAsync();

        Assert.Equal(1, result.Stored);
        var stored = (await pipeline.Lookups.FindAsync(tenant, "req-1")).Processed!;
        // 3,000 uncached × 0.000002 (the price from 2026-11-01) + 8,000 × 0.0000003 + 1,000 × 0.00000375
        // + 600 × 0.000015 + 300 reasoning × 0.000015 (no reasoning rate: the output rate).
        Assert.Equal(0.006m + 0.0024m + 0.00375m + 0.009m + 0.0045m, stored.CostUsd);
        Assert.True(stored.Priced);
        Assert.Equal(("2", "test-sonnet", "BILLING"), (stored.PriceVersionId, stored.PricedModel, stored.Classification));
    }

    /// <summary>
    /// A log whose positions start again (a topic recreated, a new Kafka cluster): a batch of other events at the very
    /// positions of a stored batch is stored too. ClickHouse drops an insert whose deduplication token it has seen, so
    /// a token made of positions alone lost such batches silently (whole batches, in the fault suite's second Kafka
    /// scenario, whose mock cluster numbered its offsets from 0 again).
    /// </summary>
    [Fact]
    public async Task ABatchOfOtherEventsAtPositionsAnotherLogUsedIsStoredToo()
    {
        await using var pipeline = await fixture.NewPipelineAsync();
        var at = new DateTimeOffset(2026, 11, 20, 10, 15, 2, TimeSpan.Zero);
        ConsumedRecord[] AtSamePositions(string prefix) =>
        [
            .. Enumerable.Range(0, 3).Select(i => new ConsumedRecord(tenant, Logged.Event(tenant, $"{prefix}-{i}", at.AddSeconds(i)).ToByteArray(), $"tokage.usage.v1/0@{i}", 1)),
        ];

        var first = await pipeline.Processor.ProcessAsync(AtSamePositions("old-cluster"), CancellationToken.None);
        var second = await pipeline.Processor.ProcessAsync(AtSamePositions("new-cluster"), CancellationToken.None);

        Assert.Equal((3, 3), (first.Stored, second.Stored));
        Assert.Equal(6UL, await pipeline.ScalarAsync<ulong>("SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", tenant));
        Assert.Equal(6UL, await pipeline.ScalarAsync<ulong>("SELECT sum(events) FROM usage_daily WHERE tenant_id = {tenant:String}", tenant));

        // The same batch again is still one insert: its token names the same events at the same positions.
        await pipeline.Processor.WriteAsync(await pipeline.Processor.PrepareAsync(AtSamePositions("new-cluster"), CancellationToken.None), CancellationToken.None);
        Assert.Equal(6UL, await pipeline.ScalarAsync<ulong>("SELECT sum(events) FROM usage_daily WHERE tenant_id = {tenant:String}", tenant));
    }

    [Fact]
    public async Task TheSameUsagePricesAtThePriceInEffectAtItsOwnTime()
    {
        await using var pipeline = await fixture.NewPipelineAsync();
        await pipeline.AppendAsync(
            Logged.Event(tenant, "before", TestPrices.Change.AddMinutes(-1)),
            Logged.Event(tenant, "after", TestPrices.Change));

        await pipeline.ReadAndProcessAsync();

        var before = (await pipeline.Lookups.FindAsync(tenant, "before")).Processed!;
        var after = (await pipeline.Lookups.FindAsync(tenant, "after")).Processed!;
        Assert.Equal(("1", 0.02865m), (before.PriceVersionId, before.CostUsd));
        Assert.Equal(("2", 0.02565m), (after.PriceVersionId, after.CostUsd));
    }

    [Fact]
    public async Task AnUnknownModelIsStoredUnpricedAndCountedAsUnpricedNotAsFree()
    {
        await using var pipeline = await fixture.NewPipelineAsync();
        await pipeline.AppendAsync(Logged.Event(tenant, "mystery", DateTimeOffset.UtcNow.AddMinutes(-5), model: "no-such-model"));

        await pipeline.ReadAndProcessAsync();

        var stored = (await pipeline.Lookups.FindAsync(tenant, "mystery")).Processed!;
        Assert.False(stored.Priced);
        Assert.Equal(("", "PUB"), (stored.PriceVersionId, stored.Classification));
        Assert.Equal(1ul, await pipeline.ScalarAsync<ulong>("SELECT sum(unpriced_events) FROM usage_daily WHERE tenant_id = {tenant:String}", tenant));
    }

    [Fact]
    public async Task ARepeatedEventIdIsStoredOnceAndTheRepeatRecordedAsItsDuplicate()
    {
        await using var pipeline = await fixture.NewPipelineAsync();
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        await pipeline.AppendAsync(Logged.Event(tenant, "once", at));
        var first = await pipeline.ReadAndProcessAsync();
        // The client retried (its first answer was lost): a second request, a second log record, the same id.
        await pipeline.AppendAsync(Logged.Event(tenant, "once", at), Logged.Event(tenant, "once", at));
        var second = await pipeline.ReadAndProcessAsync();

        Assert.Equal((1, 0), (first.Stored, first.Duplicates));
        Assert.Equal((0, 2), (second.Stored, second.Duplicates));
        var status = await pipeline.Lookups.FindAsync(tenant, "once");
        Assert.NotNull(status.Processed);
        Assert.Equal(2, status.Duplicates.Count);
        Assert.All(status.Duplicates, d => Assert.Equal(status.Processed!.LogPosition, d.DuplicateOf));
        Assert.Equal(1ul, await pipeline.ScalarAsync<ulong>("SELECT count() FROM usage_events FINAL WHERE tenant_id = {tenant:String}", tenant));
        Assert.Equal(1ul, await pipeline.ScalarAsync<ulong>("SELECT sum(events) FROM usage_hourly WHERE tenant_id = {tenant:String}", tenant));
    }

    [Fact]
    public async Task ABatchProcessedAgainBeforeItsCommitChangesNothingInRawRowsOrRollups()
    {
        await using var pipeline = await fixture.NewPipelineAsync();
        var at = DateTimeOffset.UtcNow.AddMinutes(-2);
        await pipeline.AppendAsync([.. Enumerable.Range(0, 50).Select(i => Logged.Event(tenant, $"e-{i}", at))]);
        var records = await pipeline.ReadAsync();

        // Written, then "crashed" before the commit: the same records come back, whole, then in another split.
        var first = await pipeline.Processor.ProcessAsync(records, CancellationToken.None);
        var again = await pipeline.Processor.ProcessAsync(records, CancellationToken.None);
        var overlapping = await pipeline.Processor.ProcessAsync(records.Skip(20).ToList(), CancellationToken.None);

        Assert.Equal((50, 0), (first.Stored, first.AlreadyStored));
        Assert.Equal((0, 50, 0), (again.Stored, again.AlreadyStored, again.Duplicates));
        Assert.Equal((0, 30), (overlapping.Stored, overlapping.AlreadyStored));
        Assert.Equal(50ul, await pipeline.ScalarAsync<ulong>("SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", tenant));
        Assert.Equal(50ul, await pipeline.ScalarAsync<ulong>("SELECT sum(events) FROM usage_hourly WHERE tenant_id = {tenant:String}", tenant));
        Assert.Equal(50ul, await pipeline.ScalarAsync<ulong>("SELECT sum(events) FROM usage_daily WHERE tenant_id = {tenant:String}", tenant));
        Assert.Equal(50m * 0.02565m, await pipeline.ScalarAsync<decimal>("SELECT sum(cost_usd) FROM usage_daily WHERE tenant_id = {tenant:String}", tenant));
    }

    [Fact]
    public async Task WithTheClaimsLostAReplayedLogAndARepeatedIdAddNothingToTheRollups()
    {
        await using var pipeline = await fixture.NewPipelineAsync();
        var at = DateTimeOffset.UtcNow.AddMinutes(-3);
        // Two batches' worth of long ids (a server takes form fields up to 128 KiB): the lookup goes in several queries.
        const int events = 2_000;
        static string Id(int i) => $"c-{i}-{new string('x', 100)}";
        await pipeline.AppendAsync([.. Enumerable.Range(0, events).Select(i => Logged.Event(tenant, Id(i), at))]);
        var records = await pipeline.ReadAsync(events);
        var first = await pipeline.Processor.ProcessAsync(records, CancellationToken.None);
        var positions = (await pipeline.Lookups.FindAsync(tenant, Id(3))).Processed!.LogPosition;

        // Redis came back empty (no persistence, a failover): the log is read again in another split, and a client's
        // retry of five ids arrives as new records.
        await WipeClaimsAsync();
        var replayed = await pipeline.Processor.ProcessAsync(records.Skip(15).ToList(), CancellationToken.None);
        await pipeline.AppendAsync([.. Enumerable.Range(0, 5).Select(i => Logged.Event(tenant, Id(i), at))]);
        await WipeClaimsAsync();
        var repeated = await pipeline.ReadAndProcessAsync();

        Assert.Equal((events, 0), (first.Stored, first.AlreadyStored));
        Assert.Equal((0, events - 15, 0), (replayed.Stored, replayed.AlreadyStored, replayed.Duplicates));
        Assert.Equal((0, 0, 5), (repeated.Stored, repeated.AlreadyStored, repeated.Duplicates));
        Assert.Equal(positions, (await pipeline.Lookups.FindAsync(tenant, Id(3))).Duplicates.Single().DuplicateOf);
        Assert.Equal((ulong)events, await pipeline.ScalarAsync<ulong>("SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", tenant));
        foreach (var rollup in ProcessingStack.Rollups)
        {
            Assert.Equal((ulong)events, await pipeline.ScalarAsync<ulong>($"SELECT sum(events) FROM {rollup} WHERE tenant_id = {{tenant:String}}", tenant));
            Assert.Equal(events * 0.02565m, await pipeline.ScalarAsync<decimal>($"SELECT sum(cost_usd) FROM {rollup} WHERE tenant_id = {{tenant:String}}", tenant));
        }
    }

    [Fact]
    public async Task AReplayWhoseFirstWriteFailedIsStored()
    {
        await using var pipeline = await fixture.NewPipelineAsync();
        await pipeline.AppendAsync(Logged.Event(tenant, "claimed-then-failed", DateTimeOffset.UtcNow.AddMinutes(-1)));
        var records = await pipeline.ReadAsync();

        // The claim was taken, then the write failed (ClickHouse down): the claim must not make it a duplicate.
        var claims = new Tokage.EventLog.DedupeClaims(fixture.Connection);
        var claim = await claims.ClaimAsync([(tenant, "claimed-then-failed", records[0].Position)], TimeSpan.FromDays(45));
        var result = await pipeline.Processor.ProcessAsync(records, CancellationToken.None);

        Assert.Equal(Tokage.EventLog.ClaimResult.New, claim[0].Result);
        Assert.Equal((1, 0), (result.Stored, result.Duplicates));
        Assert.NotNull((await pipeline.Lookups.FindAsync(tenant, "claimed-then-failed")).Processed);
    }

    [Fact]
    public async Task RecordsThatCannotBeStoredAreQuarantinedWithTheirReason()
    {
        await using var pipeline = await fixture.NewPipelineAsync();
        await pipeline.AppendRawAsync(tenant, [0xff, 0xff, 0xff, 0x01]);
        await pipeline.AppendAsync(
            Logged.Event(tenant, "future-layout", DateTimeOffset.UtcNow, schemaVersion: 2),
            Logged.Event(tenant, "bad-cache", DateTimeOffset.UtcNow, input: 10, cacheRead: 20, cacheWrite: 0, userId: "carol@example.com",
                metadata: new Dictionary<string, string> { ["contact"] = "+44 20 7946 0958" }),
            Logged.Event(tenant, "fine", DateTimeOffset.UtcNow.AddMinutes(-1)));

        var result = await pipeline.ReadAndProcessAsync();

        Assert.Equal(1, result.Stored);
        Assert.Equal(3, result.Quarantined.Count);
        Assert.Equal(4, result.Total);
        Assert.Equal("unknown_schema_version", (await pipeline.Lookups.FindAsync(tenant, "future-layout")).Quarantined.Single().Reason);
        var badCache = (await pipeline.Lookups.FindAsync(tenant, "bad-cache")).Quarantined.Single();
        Assert.Equal("invalid", badCache.Reason);
        Assert.Contains("Cache tokens exceed input", badCache.Detail);

        // Quarantine explains the record without keeping what the store would have pseudonymised.
        var payload = await pipeline.ScalarAsync<string>(
            "SELECT payload FROM usage_quarantine WHERE tenant_id = {tenant:String} AND event_id = 'bad-cache'", tenant);
        Assert.DoesNotContain("carol@example.com", payload);
        Assert.DoesNotContain("7946", payload);
        Assert.Contains("pii:", payload);
        Assert.Equal(1ul, await pipeline.ScalarAsync<ulong>(
            "SELECT count() FROM usage_quarantine WHERE tenant_id = {tenant:String} AND reason = 'undecodable'", tenant));
        Assert.Equal(1ul, await pipeline.ScalarAsync<ulong>("SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", tenant));
    }

    [Fact]
    public async Task TheArchiveHoldsTheStoredRowsInParquetThatClickHouseReads()
    {
        await using var pipeline = await fixture.NewPipelineAsync();
        var hour = new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);
        await pipeline.AppendAsync([.. Enumerable.Range(0, 30).Select(i => Logged.Event(tenant, $"a-{i}", hour.AddMinutes(i * 3), output: 900 + i))]);

        await pipeline.ReadAndProcessAsync();

        var keys = await pipeline.Store.ListAsync($"archive/tenant={tenant}/");
        Assert.Equal(2, keys.Count); // 09:00–09:57 and 10:00–10:27 are two tenant-hours.
        Assert.All(keys, k => Assert.Matches(@"^archive/tenant=[0-9a-f-]+/date=2026-11-30/hour=(09|10)/.+\.parquet$", k));

        // A second reader: ClickHouse's own Parquet input, over the files, against the raw table.
        var files = $"{pipeline.ArchiveRoot}/archive/tenant={tenant}/*/*/*.parquet";
        var archived = await pipeline.ScalarAsync<string>(
            $"SELECT concat(toString(count()), '|', toString(sum(cost_usd)), '|', toString(sum(output_tokens)), '|', arrayStringConcat(arraySort(groupArray(event_id)), ',')) FROM file('{files}', Parquet)", tenant);
        var raw = await pipeline.ScalarAsync<string>(
            "SELECT concat(toString(count()), '|', toString(sum(cost_usd)), '|', toString(sum(output_tokens)), '|', arrayStringConcat(arraySort(groupArray(event_id)), ',')) FROM usage_events FINAL WHERE tenant_id = {tenant:String}", tenant);
        Assert.Equal(raw, archived);
        Assert.StartsWith("30|", archived);
    }

    [Fact]
    public async Task WritingTheSameRangeAgainReplacesTheSameFilesWithTheSameRows()
    {
        await using var pipeline = await fixture.NewPipelineAsync();
        await pipeline.AppendAsync([.. Enumerable.Range(0, 5).Select(i => Logged.Event(tenant, $"r-{i}", DateTimeOffset.UtcNow.AddMinutes(-1)))]);
        await pipeline.ReadAndProcessAsync();
        var keys = await pipeline.Store.ListAsync($"archive/tenant={tenant}/");
        var before = await pipeline.Store.GetAsync(keys.Single());
        var archived = (await Parquet.Serialization.ParquetSerializer.DeserializeAsync<Archive.ArchivedEvent>(new MemoryStream(before!))).Data;
        var rows = archived
            .Select(a => new Tokage.Analytics.UsageEventRow
            {
                TenantId = a.TenantId, EventId = a.EventId, EventTime = a.EventTime, IngestTime = a.IngestTime, Provider = a.Provider, Model = a.Model,
                CostUsd = a.CostUsd, Priced = a.Priced, LogPosition = a.LogPosition, Source = a.Source, Application = a.Application, Project = a.Project,
                UserId = a.UserId, Team = a.Team, Environment = a.Environment, ServiceTier = a.ServiceTier, InputTokens = (ulong)a.InputTokens,
                CacheReadTokens = (ulong)a.CacheReadTokens, CacheWriteTokens = (ulong)a.CacheWriteTokens, CacheWrite1hTokens = (ulong)a.CacheWrite1hTokens,
                OutputTokens = (ulong)a.OutputTokens, ReasoningTokens = (ulong)a.ReasoningTokens, PriceVersionId = a.PriceVersionId,
                PricedModel = a.PricedModel, Classification = a.Classification, TraceId = a.TraceId, SpanId = a.SpanId,
                Metadata = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(a.MetadataJson)!,
            }).ToList();

        // A replay of the range (crash after the archive, before ClickHouse): the same key, replaced, not a second file.
        var token = LogRange.Token(rows.Select(r => r.LogPosition).ToList(), rows.Select(r => $"{r.TenantId}/{r.EventId}"));
        var written = await new Archive.ParquetArchive(pipeline.Store).WriteAsync(rows, token, CancellationToken.None);

        Assert.Equal(keys, written);
        Assert.Equal(keys, await pipeline.Store.ListAsync($"archive/tenant={tenant}/"));
        Assert.Equal(before, await pipeline.Store.GetAsync(keys.Single()));
    }

    /// <summary>Deletes this test's tenant's dedupe claims, as a Redis that lost its data would have none.</summary>
    private async Task WipeClaimsAsync()
    {
        var server = fixture.Connection.GetServers().Single();
        await foreach (var key in server.KeysAsync(pattern: Tokage.EventLog.DedupeClaims.Key(tenant, "*")))
        {
            await fixture.Connection.GetDatabase().KeyDeleteAsync(key);
        }
    }
}
