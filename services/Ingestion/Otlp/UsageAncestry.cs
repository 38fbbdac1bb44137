using StackExchange.Redis;

namespace Tokage.Ingestion.Otlp;

/// <summary>A span's place in its trace: the parent is empty for a root.</summary>
public readonly record struct SpanNode(string TraceId, string SpanId, string ParentSpanId);

/// <summary>
/// Which spans have a descendant that carries usage, across export requests: such a span (an agent, a workflow, a
/// Vercel <c>ai.generateText</c> that sums its steps) repeats its children's usage and is never billed. Exporters send
/// spans as they end, children before parents, often in an earlier request: so every span found to have usage below
/// it is remembered per (tenant, trace) in Redis for <see cref="Window"/>, and each request's spans pass that mark up
/// to their parents.
/// </summary>
public sealed class UsageAncestry(IConnectionMultiplexer redis)
{
    /// <summary>How long a trace's marks are kept: spans of one trace end within minutes of each other.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromHours(1);

    public static string Key(string tenantId, string traceId) => $"tokage:otlp:usage-below:{tenantId}:{traceId}";

    /// <summary>Of <paramref name="usage"/>, the spans with usage below them (not to be billed); records the marks for later requests.</summary>
    public async Task<HashSet<(string TraceId, string SpanId)>> WrappersAsync(
        string tenantId, IReadOnlyList<SpanNode> spans, IReadOnlyCollection<(string TraceId, string SpanId)> usage)
    {
        var db = redis.GetDatabase();
        var traces = spans.GroupBy(s => s.TraceId).ToList();

        // Spans of this request that an earlier request already found usage below.
        var lookups = traces.Select(t => (Trace: t.Key, Spans: t.Select(s => s.SpanId).ToArray(),
            Known: db.SetContainsAsync(Key(tenantId, t.Key), t.Select(s => (RedisValue)s.SpanId).ToArray()))).ToList();
        var below = new HashSet<(string, string)>();
        foreach (var lookup in lookups)
        {
            var known = await lookup.Known;
            for (var i = 0; i < known.Length; i++)
            {
                if (known[i])
                {
                    below.Add((lookup.Trace, lookup.Spans[i]));
                }
            }
        }

        // Every usage span, and every span known to have usage below, marks its ancestors as far as this request knows them.
        var parentOf = spans.GroupBy(s => (s.TraceId, s.SpanId)).ToDictionary(g => g.Key, g => g.First().ParentSpanId);
        var marked = new List<(string Trace, string Span)>();
        foreach (var seed in usage.Concat(below.ToList()))
        {
            var current = seed;
            while (parentOf.TryGetValue(current, out var parent) && parent.Length > 0)
            {
                var next = (current.Item1, parent);
                if (!below.Add(next))
                {
                    break;
                }

                marked.Add(next);
                current = next;
            }
        }

        if (marked.Count > 0)
        {
            var writes = marked.GroupBy(m => m.Trace).SelectMany(g => new Task[]
            {
                db.SetAddAsync(Key(tenantId, g.Key), g.Select(m => (RedisValue)m.Span).ToArray()),
                db.KeyExpireAsync(Key(tenantId, g.Key), Window),
            });
            await Task.WhenAll(writes);
        }

        return usage.Where(below.Contains).ToHashSet();
    }
}
