using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Utility;

namespace Tokage.Analytics.Tests;

public sealed class WriterTests(UsageStoreFixture fixture) : IClassFixture<UsageStoreFixture>
{
    [Fact]
    public async Task EveryColumnRoundTripsExactly()
    {
        using var store = await fixture.NewStoreAsync();
        var at = new DateTime(2026, 11, 20, 10, 15, 2, 120, DateTimeKind.Utc);
        var row = Rows.Event("acme", "req-7f3a-0001", at, cost: 0.123456789012345678m, model: "claude-sonnet-4-5") with
        {
            Provider = "anthropic",
            ServiceTier = "priority",
            Application = "support-bot",
            Project = "helpdesk",
            UserId = "u-42",
            Team = "cx",
            Environment = "prod",
            CacheReadTokens = 8000,
            CacheWriteTokens = 1000,
            CacheWrite1hTokens = 5,
            ReasoningTokens = 30,
            TraceId = "0af7651916cd43dd8448eb211c80319c",
            SpanId = "b7ad6b7169203331",
            LogPosition = "tokage.usage.v1/0@42",
            Metadata = new Dictionary<string, string> { ["ticket"] = "T-1001", ["note"] = "a\n\nb" },
        };

        Assert.Equal(1, await store.Writer.WriteEventsAsync([row]));

        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("tenant", "acme");
        using var reader = await store.Client.ExecuteReaderAsync(
            "SELECT event_id, event_time, provider, model, service_tier, user_id, cache_write_1h_tokens, cost_usd, toString(cost_usd), " +
            "trace_id, log_position, metadata['note'], priced, classification FROM usage_events WHERE tenant_id = {tenant:String}", parameters);
        Assert.True(reader.Read());
        Assert.Equal("req-7f3a-0001", reader.GetString(0));
        Assert.Equal(at, ((DateTime)reader.GetValue(1)).ToUniversalTime());
        Assert.Equal("anthropic", reader.GetString(2));
        Assert.Equal("claude-sonnet-4-5", reader.GetString(3));
        Assert.Equal("priority", reader.GetString(4));
        Assert.Equal("u-42", reader.GetString(5));
        Assert.Equal(5UL, Convert.ToUInt64(reader.GetValue(6)));
        Assert.Equal(0.123456789012345678m, Convert.ToDecimal(reader.GetValue(7)));
        Assert.Equal("0.123456789012345678", reader.GetString(8));
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", reader.GetString(9));
        Assert.Equal("tokage.usage.v1/0@42", reader.GetString(10));
        Assert.Equal("a\n\nb", reader.GetString(11));
        Assert.True((bool)reader.GetValue(12));
        Assert.Equal("BILLING", reader.GetString(13));
        Assert.False(reader.Read());

        // The rollups saw it, to the last decimal place.
        Assert.Equal("0.123456789012345678", (string)(await store.Client.ExecuteScalarAsync("SELECT toString(sum(cost_usd)) FROM usage_hourly"))!);
        Assert.Equal("0.123456789012345678", (string)(await store.Client.ExecuteScalarAsync("SELECT toString(sum(cost_usd)) FROM usage_daily"))!);
    }

    [Fact]
    public async Task ARetriedBatchIsStoredOnceInRawRowsAndRollups()
    {
        using var store = await fixture.NewStoreAsync(new AnalyticsOptions { InsertChunkRows = 1_000 });
        var rows = SyntheticUsage.History("acme", 2_500, new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc), TimeSpan.FromDays(3), seed: 1);
        var expectedCost = rows.Sum(r => r.CostUsd);

        // Three chunks per write; the retry sends the same batch token, as a processor replaying a log range does.
        await store.Writer.WriteEventsAsync(rows, batchToken: "tokage.usage.v1/0@0-2499");
        await store.Writer.WriteEventsAsync(rows, batchToken: "tokage.usage.v1/0@0-2499");

        Assert.Equal(2_500UL, await store.CountAsync("SELECT count() FROM usage_events"));
        Assert.Equal(2_500UL, await store.CountAsync("SELECT sum(events) FROM usage_hourly"));
        Assert.Equal(2_500UL, await store.CountAsync("SELECT sum(events) FROM usage_daily"));
        Assert.Equal(expectedCost, Convert.ToDecimal(await store.Client.ExecuteScalarAsync("SELECT sum(cost_usd) FROM usage_hourly")));

        // Another batch is another write.
        await store.Writer.WriteEventsAsync([Rows.Event("acme", "later", DateTime.UtcNow)], batchToken: "tokage.usage.v1/0@2500-2500");
        Assert.Equal(2_501UL, await store.CountAsync("SELECT sum(events) FROM usage_daily"));
    }

    [Fact]
    public async Task ReplayedRowsWithoutATokenCollapseInRawRowsToTheLatestVersion()
    {
        using var store = await fixture.NewStoreAsync();
        var at = DateTime.UtcNow;
        await store.Writer.WriteEventsAsync([Rows.Event("acme", "e1", at) with { IngestVersion = 1, LogPosition = "p/0@1" }]);
        await store.Writer.WriteEventsAsync([Rows.Event("acme", "e1", at) with { IngestVersion = 2, LogPosition = "p/0@1" }]);

        Assert.Equal(1UL, await store.CountAsync("SELECT count() FROM usage_events FINAL"));
        Assert.Equal(2UL, await store.CountAsync("SELECT max(ingest_version) FROM usage_events FINAL"));
    }

    [Fact]
    public async Task QuarantineKeepsTheReasonAndThePayload()
    {
        using var store = await fixture.NewStoreAsync();
        await store.Writer.WriteQuarantineAsync(
        [
            new QuarantineRow
            {
                TenantId = "acme", EventId = "bad-1", ReceivedTime = DateTime.UtcNow, Source = "http",
                Reason = "unknown_schema_version", Detail = "schema version 9 is newer than this processor", Payload = "{\"v\":9}",
                LogPosition = "tokage.usage.v1/1@7",
            },
        ]);

        using var reader = await store.Client.ExecuteReaderAsync("SELECT event_id, reason, detail, payload, log_position FROM usage_quarantine");
        Assert.True(reader.Read());
        Assert.Equal(("bad-1", "unknown_schema_version", "schema version 9 is newer than this processor", "{\"v\":9}", "tokage.usage.v1/1@7"),
            (reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
    }
}
