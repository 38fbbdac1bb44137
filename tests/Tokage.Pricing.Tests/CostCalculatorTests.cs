namespace Tokage.Pricing.Tests;

/// <summary>DESIGN §4's formula and tier rules, by hand-computed cases, and splitting never changes a sum.</summary>
public sealed class CostCalculatorTests
{
    // claude-sonnet-4-5 as the 2026-07-24 snapshot prices it.
    private static readonly ModelPrice Sonnet = new()
    {
        Standard = new(Input: 0.000003m, Output: 0.000015m, CacheRead: 0.0000003m, CacheWrite: 0.00000375m, CacheWrite1h: 0.000006m),
        Above200k = new(Input: 0.000006m, Output: 0.0000225m, CacheRead: 0.0000006m, CacheWrite: 0.0000075m, CacheWrite1h: 0.000012m),
    };

    // gpt-4o: batch and priority tiers, no flex.
    private static readonly ModelPrice Gpt4o = new()
    {
        Standard = new(Input: 0.0000025m, Output: 0.00001m, CacheRead: 0.00000125m),
        Batch = new(Input: 0.00000125m, Output: 0.000005m),
        Priority = new(Input: 0.00000425m, Output: 0.000017m, CacheRead: 0.000002125m),
    };

    private static readonly ModelPrice WithReasoningRate = new() { Standard = new(Input: 0.000001m, Output: 0.000004m, Reasoning: 0.00001m) };

    private static readonly ModelPrice NoCacheRates = new() { Standard = new(Input: 0.000002m, Output: 0.000008m) };

    public static TheoryData<string, ModelPrice, TokenCounts, ServiceTier, decimal> Cases => new()
    {
        // 3000 uncached × 3e-6 + 8000 × 3e-7 + 1000 × 3.75e-6 + 600 × 1.5e-5 + 300 × 1.5e-5 (no reasoning rate: output's)
        { "design example, cache-inclusive input", Sonnet, new(12_000, 8_000, 1_000, 0, 900, 300), ServiceTier.Standard, 0.02865m },
        { "1-hour cache writes", Sonnet, new(2_000, 0, 0, 1_000, 0, 0), ServiceTier.Standard, 0.003m + 0.006m },
        { "5-minute and 1-hour writes together", Sonnet, new(3_000, 0, 1_000, 1_000, 0, 0), ServiceTier.Standard, 0.003m + 0.00375m + 0.006m },
        { "reasoning at its own rate", WithReasoningRate, new(1_000, 0, 0, 0, 500, 200), ServiceTier.Standard, 0.001m + 300 * 0.000004m + 200 * 0.00001m },
        { "reasoning at the output rate", Gpt4o, new(0, 0, 0, 0, 500, 200), ServiceTier.Standard, 500 * 0.00001m },
        { "exactly 200k input stays standard", Sonnet, new(200_000, 0, 0, 0, 1_000, 0), ServiceTier.Standard, 200_000 * 0.000003m + 1_000 * 0.000015m },
        { "above 200k every bucket switches", Sonnet, new(250_000, 50_000, 10_000, 5_000, 1_000, 100), ServiceTier.Standard,
            185_000 * 0.000006m + 50_000 * 0.0000006m + 10_000 * 0.0000075m + 5_000 * 0.000012m + 900 * 0.0000225m + 100 * 0.0000225m },
        { "above 200k on a model without a tier", Gpt4o, new(300_000, 0, 0, 0, 10, 0), ServiceTier.Standard, 300_000 * 0.0000025m + 10 * 0.00001m },
        { "batch tier", Gpt4o, new(1_000, 0, 0, 0, 100, 0), ServiceTier.Batch, 1_000 * 0.00000125m + 100 * 0.000005m },
        { "batch tier without a batch cache rate keeps the standard one", Gpt4o, new(1_000, 400, 0, 0, 0, 0), ServiceTier.Batch, 600 * 0.00000125m + 400 * 0.00000125m },
        { "priority tier", Gpt4o, new(1_000, 400, 0, 0, 100, 0), ServiceTier.Priority, 600 * 0.00000425m + 400 * 0.000002125m + 100 * 0.000017m },
        { "flex on a model without flex rates", Gpt4o, new(1_000, 0, 0, 0, 100, 0), ServiceTier.Flex, 1_000 * 0.0000025m + 100 * 0.00001m },
        { "missing cache rates fall back to input", NoCacheRates, new(10_000, 4_000, 2_000, 1_000, 0, 0), ServiceTier.Standard, 10_000 * 0.000002m },
        { "nothing used", Sonnet, new(0), ServiceTier.Standard, 0m },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CostIsExact(string what, ModelPrice price, TokenCounts tokens, ServiceTier tier, decimal expected)
    {
        Assert.True(CostCalculator.Compute(tokens, price, tier).TotalUsd == expected, $"{what}: {CostCalculator.Compute(tokens, price, tier).TotalUsd} ≠ {expected}");
    }

    [Fact]
    public void CacheExclusiveReportsAreMadeCacheInclusiveFirst()
    {
        // Raw Anthropic usage: input_tokens excludes the cache parts, which then exceed it.
        var reported = TokenCounts.FromReported(input: 3_000, cacheRead: 8_000, cacheWrite: 1_000, cacheWrite1h: 0, output: 900, reasoning: 300);
        Assert.Equal(new TokenCounts(12_000, 8_000, 1_000, 0, 900, 300), reported);
        Assert.Equal(0.02865m, CostCalculator.Compute(reported, Sonnet).TotalUsd);

        // Already inclusive: left alone.
        Assert.Equal(new TokenCounts(12_000, 8_000, 1_000, 0, 900, 300), TokenCounts.FromReported(12_000, 8_000, 1_000, 0, 900, 300));
    }

    [Fact]
    public void SplittingAnEventsTokensNeverChangesTheSum()
    {
        var random = new Random(2026);
        foreach (var (price, tier) in new[] { (Sonnet, ServiceTier.Standard), (Gpt4o, ServiceTier.Priority), (Gpt4o, ServiceTier.Batch), (WithReasoningRate, ServiceTier.Standard), (NoCacheRates, ServiceTier.Flex) })
        {
            for (var i = 0; i < 2_000; i++)
            {
                var whole = RandomCounts(random, maxInput: 200_000);
                // Split every bucket at random, keeping each part a valid event.
                var cacheRead = random.NextInt64(0, whole.CacheRead + 1);
                var cacheWrite = random.NextInt64(0, whole.CacheWrite + 1);
                var cacheWrite1h = random.NextInt64(0, whole.CacheWrite1h + 1);
                var uncached = whole.Input - whole.CacheRead - whole.CacheWrite - whole.CacheWrite1h;
                var uncachedPart = random.NextInt64(0, uncached + 1);
                var reasoning = random.NextInt64(0, whole.Reasoning + 1);
                var outputPart = reasoning + random.NextInt64(0, whole.Output - whole.Reasoning + 1);
                var first = new TokenCounts(uncachedPart + cacheRead + cacheWrite + cacheWrite1h, cacheRead, cacheWrite, cacheWrite1h, outputPart, reasoning);
                var second = new TokenCounts(whole.Input - first.Input, whole.CacheRead - cacheRead, whole.CacheWrite - cacheWrite,
                    whole.CacheWrite1h - cacheWrite1h, whole.Output - outputPart, whole.Reasoning - reasoning);

                var sum = CostCalculator.Compute(first, price, tier).TotalUsd + CostCalculator.Compute(second, price, tier).TotalUsd;
                Assert.Equal(CostCalculator.Compute(whole, price, tier).TotalUsd, sum);
            }
        }
    }

    [Fact]
    public void ImpossibleCountsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => CostCalculator.Compute(new TokenCounts(100, 80, 30, 0, 0, 0), Sonnet));
        Assert.Throws<ArgumentException>(() => CostCalculator.Compute(new TokenCounts(100, 0, 0, 0, 10, 11), Sonnet));
        Assert.Throws<ArgumentException>(() => CostCalculator.Compute(new TokenCounts(-1), Sonnet));
    }

    private static TokenCounts RandomCounts(Random random, long maxInput)
    {
        var input = random.NextInt64(0, maxInput + 1);
        var cacheRead = random.NextInt64(0, input / 2 + 1);
        var cacheWrite = random.NextInt64(0, (input - cacheRead) / 2 + 1);
        var cacheWrite1h = random.NextInt64(0, (input - cacheRead - cacheWrite) / 2 + 1);
        var output = random.NextInt64(0, 50_000);
        return new TokenCounts(input, cacheRead, cacheWrite, cacheWrite1h, output, random.NextInt64(0, output + 1));
    }
}
