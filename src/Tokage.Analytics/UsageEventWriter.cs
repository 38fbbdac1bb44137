using ClickHouse.Driver;
using Microsoft.Extensions.Options;

namespace Tokage.Analytics;

/// <summary>
/// Bulk writes over the driver's binary insert (RowBinary, compressed). With a batch token, a retried write of
/// the same batch is dropped by ClickHouse in the raw table and in the rollups the views feed
/// (<c>insert_deduplication_token</c>): the token must name the batch's content, e.g. its log range.
/// </summary>
public sealed class UsageEventWriter(ClickHouseClient client, IOptions<AnalyticsOptions> options)
{
    public Task<long> WriteEventsAsync(IReadOnlyList<UsageEventRow> rows, string? batchToken = null, CancellationToken cancellationToken = default) =>
        WriteAsync("usage_events", UsageEventRow.Columns, rows, static r => r.ToColumns(), batchToken, cancellationToken);

    public Task<long> WriteQuarantineAsync(IReadOnlyList<QuarantineRow> rows, string? batchToken = null, CancellationToken cancellationToken = default) =>
        WriteAsync("usage_quarantine", QuarantineRow.Columns, rows, static r => r.ToColumns(), batchToken, cancellationToken);

    public Task<long> WriteDuplicatesAsync(IReadOnlyList<DuplicateRow> rows, string? batchToken = null, CancellationToken cancellationToken = default) =>
        WriteAsync("usage_duplicates", DuplicateRow.Columns, rows, static r => r.ToColumns(), batchToken, cancellationToken);

    public Task<long> WriteAdjustmentsAsync(IReadOnlyList<UsageAdjustmentRow> rows, string? batchToken = null, CancellationToken cancellationToken = default) =>
        WriteAsync("usage_adjustments", UsageAdjustmentRow.Columns, rows, static r => r.ToColumns(), batchToken, cancellationToken);

    private async Task<long> WriteAsync<T>(string table, string[] columns, IReadOnlyList<T> rows, Func<T, object[]> toColumns, string? batchToken, CancellationToken cancellationToken)
    {
        var chunkRows = Math.Max(options.Value.InsertChunkRows, 1);
        long written = 0;
        var chunkIndex = 0;
        foreach (var chunk in rows.Chunk(chunkRows))
        {
            // One INSERT per chunk, so each chunk needs a token of its own.
            var settings = new Dictionary<string, object>
            {
                // Merging each inserted block as a merge would (ReplacingMergeTree, and the rollups'
                // SummingMergeTree) costs about 4× the insert and buys nothing: the writer's batches hold
                // one row per event, the views already group by the rollup key, and readers use FINAL or sum().
                ["optimize_on_insert"] = 0,
            };
            if (batchToken is not null)
            {
                settings["insert_deduplicate"] = 1;
                settings["insert_deduplication_token"] = $"{batchToken}#{chunkIndex}";
                settings["deduplicate_blocks_in_dependent_materialized_views"] = 1;
            }

            var insert = new InsertOptions { BatchSize = chunkRows, UseSchemaCache = true, CustomSettings = settings };
            written += await client.InsertBinaryAsync(table, columns, chunk.Select(toColumns), insert, cancellationToken);
            chunkIndex++;
        }

        return written;
    }
}
