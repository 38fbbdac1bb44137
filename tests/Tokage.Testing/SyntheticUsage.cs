using Tokage.Analytics;

namespace Tokage.Testing;

/// <summary>Deterministic random usage histories, as the processor would store them, for tests and benchmarks.</summary>
public static class SyntheticUsage
{
    public static readonly string[] Providers = ["openai", "anthropic", "gcp.gemini"];
    public static readonly string[] Models = ["gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro", "mystery-model"];
    public static readonly string[] Applications = ["support-bot", "search", "o'hara's app"];
    public static readonly string[] Projects = ["helpdesk", "growth"];
    public static readonly string[] Teams = ["cx", "ml", ""];
    public static readonly string[] Environments = ["prod", "staging"];

    /// <summary>
    /// <paramref name="count"/> events spread over [start, start + span), with costs of up to 18 decimal places
    /// and about one in seven unpriced (cost 0, priced false), as the processor stores them.
    /// </summary>
    public static List<UsageEventRow> History(string tenant, int count, DateTime start, TimeSpan span, int seed)
    {
        var random = new Random(seed);
        var rows = new List<UsageEventRow>(count);
        for (var i = 0; i < count; i++)
        {
            var input = (ulong)random.Next(0, 250_000);
            var cacheRead = (ulong)random.Next(0, (int)input / 2 + 1);
            var output = (ulong)random.Next(0, 8_000);
            var priced = random.Next(7) != 0;
            var model = Models[random.Next(Models.Length)];
            rows.Add(new UsageEventRow
            {
                TenantId = tenant,
                EventId = $"{tenant}-{seed}-{i}",
                EventTime = start.AddMilliseconds(random.NextInt64((long)span.TotalMilliseconds)),
                IngestTime = start.Add(span),
                IngestVersion = (ulong)i,
                Source = i % 3 == 0 ? "otlp" : "http",
                Provider = Providers[random.Next(Providers.Length)],
                Model = model,
                ServiceTier = "standard",
                Application = Applications[random.Next(Applications.Length)],
                Project = Projects[random.Next(Projects.Length)],
                UserId = $"u-{random.Next(20)}",
                Team = Teams[random.Next(Teams.Length)],
                Environment = Environments[random.Next(Environments.Length)],
                InputTokens = input,
                CacheReadTokens = cacheRead,
                CacheWriteTokens = (ulong)random.Next(0, 100),
                CacheWrite1hTokens = (ulong)random.Next(0, 10),
                OutputTokens = output,
                ReasoningTokens = (ulong)random.Next(0, (int)output / 3 + 1),
                Priced = priced,
                // Up to 18 decimal places, built from integers: never through a double.
                CostUsd = priced ? new decimal(random.Next(0, int.MaxValue), random.Next(0, 1000), 0, false, 18) : 0m,
                PriceVersionId = priced ? $"pv-{model}-1" : "",
                PricedModel = priced ? model : "",
                Classification = priced ? "BILLING" : "OPS",
                Metadata = new Dictionary<string, string> { ["i"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            });
        }

        return rows;
    }
}
