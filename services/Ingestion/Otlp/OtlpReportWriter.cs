using StackExchange.Redis;
using Tokage.Otlp;

namespace Tokage.Ingestion.Otlp;

/// <summary>
/// Counts what each export's spans came to, per instrumentation scope, into the day's Redis hash
/// (<see cref="OtlpReportCounters"/>). Counts deliveries: a re-sent export is counted again (the billed and unpriced
/// figures of the report come from the stored events, where a re-sent span is a duplicate).
/// </summary>
public sealed class OtlpReportWriter(IConnectionMultiplexer redis, TimeProvider time, ILogger<OtlpReportWriter> logger)
{
    public async Task CountAsync(string tenantId, IReadOnlyDictionary<(ScopeName Scope, string Counter), long> counts)
    {
        if (counts.Count == 0)
        {
            return;
        }

        var key = OtlpReportCounters.Key(tenantId, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime));
        try
        {
            var batch = redis.GetDatabase().CreateBatch();
            var writes = counts.Select(c => (Task)batch.HashIncrementAsync(key, OtlpReportCounters.Field(c.Key.Scope, c.Key.Counter), c.Value)).ToList();
            writes.Add(batch.KeyExpireAsync(key, OtlpReportCounters.Retention));
            batch.Execute();
            await Task.WhenAll(writes);
        }
        catch (RedisException ex)
        {
            // The report is a diagnosis, not the record: an export is never refused for it.
            logger.LogWarning(ex, "Could not count the OTLP report of tenant {Tenant}.", tenantId);
        }
    }
}
