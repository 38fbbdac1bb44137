namespace Tokage.Pricing;

/// <summary>The per-token rates (USD) of one bucket under one condition; null where the model has no such rate.</summary>
public sealed record BucketRates(
    decimal? Input = null,
    decimal? Output = null,
    decimal? CacheRead = null,
    decimal? CacheWrite = null,
    decimal? CacheWrite1h = null,
    decimal? Reasoning = null);

/// <summary>
/// A model's prices: the standard rates, the rates above 200k input tokens, and the service tiers'. Every value is
/// a <see cref="decimal"/> read from the price document's text, never through a float.
/// </summary>
public sealed record ModelPrice
{
    public required BucketRates Standard { get; init; }
    public BucketRates Above200k { get; init; } = new();
    public BucketRates Batch { get; init; } = new();
    public BucketRates Flex { get; init; } = new();
    public BucketRates Priority { get; init; } = new();

    /// <summary>Above-200k rates while a service tier applies (LiteLLM's <c>*_above_200k_tokens_priority</c>).</summary>
    public BucketRates PriorityAbove200k { get; init; } = new();

    public bool HasTokenPrices => Standard.Input is not null || Standard.Output is not null;

    public bool HasAbove200k => Above200k != new BucketRates();
}

public enum ServiceTier
{
    Standard,
    Batch,
    Flex,
    Priority,
}

/// <summary>An event's token counts, cache-inclusive input and reasoning-inclusive output.</summary>
public readonly record struct TokenCounts(
    long Input,
    long CacheRead = 0,
    long CacheWrite = 0,
    long CacheWrite1h = 0,
    long Output = 0,
    long Reasoning = 0)
{
    /// <summary>
    /// Counts as an instrumentation reported them. Input is meant to include the cache parts; when the cache parts
    /// exceed it, the report was cache-exclusive (raw Anthropic usage), and they are added back.
    /// </summary>
    public static TokenCounts FromReported(long input, long cacheRead, long cacheWrite, long cacheWrite1h, long output, long reasoning)
    {
        var cached = cacheRead + cacheWrite + cacheWrite1h;
        return new TokenCounts(cached > input ? input + cached : input, cacheRead, cacheWrite, cacheWrite1h, output, reasoning);
    }
}
