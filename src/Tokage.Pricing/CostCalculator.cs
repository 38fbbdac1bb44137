namespace Tokage.Pricing;

/// <summary>What an event cost, and the rates that priced each bucket (for audit).</summary>
public sealed record Cost(decimal TotalUsd, decimal Input, decimal CacheRead, decimal CacheWrite, decimal CacheWrite1h, decimal Output, decimal Reasoning, bool Above200k)
{
    /// <summary>What the images, seconds and searches the event reported cost.</summary>
    public decimal Units { get; init; }
}

/// <summary>
/// DESIGN §4, exactly, in decimal:
/// <code>
/// uncached_in = input − cache_read − cache_write − cache_write_1h
/// cost = uncached_in × input_rate + cache_read × cache_read_rate
///      + cache_write × cache_write_rate + cache_write_1h × cache_write_1h_rate
///      + (output − reasoning) × output_rate + reasoning × (reasoning_rate ?? output_rate)
/// </code>
/// with each modality's share of a bucket moved from the text rate to its own (audio and image input, audio cache
/// reads and writes, audio and image output), where the model has one; video input, image cache reads and any
/// modality without a rate stay at the bucket's text rate. Missing cache rates fall back to the input rate. With more than 200,000 input tokens every bucket takes its
/// above-200k rate where the model has one. A service tier takes the tier's rate where the model has one.
/// </summary>
public static class CostCalculator
{
    public const long LongContextThreshold = 200_000;

    public static Cost Compute(TokenCounts tokens, ModelPrice price, ServiceTier tier = ServiceTier.Standard, UnitCounts units = default)
    {
        if (units.Images < 0 || units.AudioSeconds < 0 || units.WebSearchQueries < 0)
        {
            throw new ArgumentException("Unit counts must be non-negative.", nameof(units));
        }

        if (tokens.CacheRead + tokens.CacheWrite + tokens.CacheWrite1h > tokens.Input || tokens.Reasoning > tokens.Output
            || tokens.Input < 0 || tokens.CacheRead < 0 || tokens.CacheWrite < 0 || tokens.CacheWrite1h < 0 || tokens.Output < 0 || tokens.Reasoning < 0)
        {
            throw new ArgumentException("Token counts must be non-negative, cache parts within input, reasoning within output.", nameof(tokens));
        }

        var m = tokens.Modalities;
        if (m.Misfit(tokens) is { } misfit)
        {
            throw new ArgumentException($"Modality counts do not fit the totals: {misfit}.", nameof(tokens));
        }

        var longContext = tokens.Input > LongContextThreshold && price.HasAbove200k;
        var tierRates = tier switch
        {
            ServiceTier.Batch => price.Batch,
            ServiceTier.Flex => price.Flex,
            ServiceTier.Priority => longContext ? price.PriorityAbove200k : price.Priority,
            _ => new BucketRates(),
        };
        var baseRates = longContext ? Merge(price.Above200k, price.Standard) : price.Standard;
        var rates = Merge(tierRates, baseRates);

        var modal = price.Modalities;
        var inputRate = rates.Input ?? 0m;
        var outputRate = rates.Output ?? 0m;
        var cacheReadRate = rates.CacheRead ?? inputRate;
        var cacheWriteRate = rates.CacheWrite ?? inputRate;
        var uncached = tokens.Input - tokens.CacheRead - tokens.CacheWrite - tokens.CacheWrite1h;
        var (uncachedAudio, uncachedImage) = (m.AudioInput - m.AudioCacheRead - m.AudioCacheWrite, m.ImageInput - m.ImageCacheRead);
        var input = (uncached - uncachedAudio - uncachedImage) * inputRate
            + uncachedAudio * (modal.AudioInput ?? inputRate) + uncachedImage * (modal.ImageInput ?? inputRate);
        var cacheRead = (tokens.CacheRead - m.AudioCacheRead) * cacheReadRate + m.AudioCacheRead * (modal.AudioCacheRead ?? cacheReadRate);
        var cacheWrite = (tokens.CacheWrite - m.AudioCacheWrite) * cacheWriteRate + m.AudioCacheWrite * (modal.AudioCacheWrite ?? cacheWriteRate);
        var cacheWrite1h = tokens.CacheWrite1h * (rates.CacheWrite1h ?? inputRate);
        var output = (tokens.Output - tokens.Reasoning - m.AudioOutput - m.ImageOutput) * outputRate
            + m.AudioOutput * (modal.AudioOutput ?? outputRate) + m.ImageOutput * (modal.ImageOutput ?? outputRate);
        var reasoning = tokens.Reasoning * (rates.Reasoning ?? outputRate);
        // Units the model has no price for add nothing here; whoever prices an event checks ModelPrice.CanPrice first.
        var unitCost = units.Images * (price.Units.InputImage ?? 0m) + units.AudioSeconds * (price.Units.AudioSecond ?? 0m)
            + units.WebSearchQueries * (price.Units.WebSearchQuery ?? 0m);
        return new Cost(input + cacheRead + cacheWrite + cacheWrite1h + output + reasoning + unitCost, input, cacheRead, cacheWrite, cacheWrite1h, output, reasoning, longContext)
        {
            Units = unitCost,
        };
    }

    /// <summary>Each rate of <paramref name="preferred"/> where it has one, else <paramref name="fallback"/>'s.</summary>
    private static BucketRates Merge(BucketRates preferred, BucketRates fallback) => new(
        preferred.Input ?? fallback.Input,
        preferred.Output ?? fallback.Output,
        preferred.CacheRead ?? fallback.CacheRead,
        preferred.CacheWrite ?? fallback.CacheWrite,
        preferred.CacheWrite1h ?? fallback.CacheWrite1h,
        preferred.Reasoning ?? fallback.Reasoning);
}
