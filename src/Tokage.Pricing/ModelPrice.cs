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
/// Per-token rates (USD) of the modalities a model prices apart from text (LiteLLM's <c>input_cost_per_audio_token</c>,
/// <c>cache_read_input_audio_token_cost</c>, …); null where it has none, and then that modality pays the text rate of
/// its bucket.
/// </summary>
public sealed record ModalityRates(
    decimal? AudioInput = null,
    decimal? ImageInput = null,
    decimal? AudioCacheRead = null,
    decimal? AudioCacheWrite = null,
    decimal? AudioOutput = null,
    decimal? ImageOutput = null);

/// <summary>
/// Prices per unit rather than per token (USD): an input image (LiteLLM's <c>input_cost_per_image</c>), a second of
/// audio (<c>output_cost_per_second</c>, else <c>input_cost_per_second</c>), a web search
/// (<c>search_context_cost_per_query</c> at the medium context size, LiteLLM's default); null where the model has none.
/// </summary>
public sealed record UnitRates(decimal? InputImage = null, decimal? AudioSecond = null, decimal? WebSearchQuery = null)
{
    public bool Any => InputImage is not null || AudioSecond is not null || WebSearchQuery is not null;
}

/// <summary>What an event reports in units rather than tokens: input images, seconds of audio, web searches.</summary>
public readonly record struct UnitCounts(long Images = 0, decimal AudioSeconds = 0m, long WebSearchQueries = 0)
{
    public bool Any => this != default;

    /// <summary>The units reported that <paramref name="rates"/> cannot price (never guessed: such an event is unpriced).</summary>
    public IEnumerable<string> WithoutRate(UnitRates rates)
    {
        if (Images > 0 && rates.InputImage is null)
        {
            yield return "images";
        }

        if (AudioSeconds > 0 && rates.AudioSecond is null)
        {
            yield return "audio_seconds";
        }

        if (WebSearchQueries > 0 && rates.WebSearchQuery is null)
        {
            yield return "web_search_queries";
        }
    }
}

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

    /// <summary>Audio and image rates (whatever the tier or context length: LiteLLM lists them once).</summary>
    public ModalityRates Modalities { get; init; } = new();

    /// <summary>Per-image, per-second and per-search prices.</summary>
    public UnitRates Units { get; init; } = new();

    /// <summary>Whether the model can price an event with these tokens and units: every part reported has its rate.</summary>
    public bool CanPrice(TokenCounts tokens, UnitCounts units) =>
        (HasTokenPrices || tokens == default) && !units.WithoutRate(Units).Any() && (HasTokenPrices || Units.Any);

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

/// <summary>
/// The parts of an event's buckets that are not text: each inside its bucket (audio cache reads inside the cache
/// reads and inside the audio input, …); whatever no modality names is text.
/// </summary>
public readonly record struct ModalityCounts(
    long AudioInput = 0,
    long ImageInput = 0,
    long VideoInput = 0,
    long AudioCacheRead = 0,
    long ImageCacheRead = 0,
    long AudioCacheWrite = 0,
    long AudioOutput = 0,
    long ImageOutput = 0)
{
    public bool Any => this != default;

    /// <summary>Audio, image and video input that no cache served or wrote.</summary>
    public long UncachedInput => (AudioInput - AudioCacheRead - AudioCacheWrite) + (ImageInput - ImageCacheRead) + VideoInput;

    /// <summary>Why these parts do not fit <paramref name="totals"/>, or null when they do.</summary>
    public string? Misfit(TokenCounts totals)
    {
        long[] all = [AudioInput, ImageInput, VideoInput, AudioCacheRead, ImageCacheRead, AudioCacheWrite, AudioOutput, ImageOutput];
        return all.Any(c => c < 0) ? "modality counts must be non-negative"
            : AudioCacheRead + AudioCacheWrite > AudioInput ? "audio cache reads and writes exceed the audio input"
            : ImageCacheRead > ImageInput ? "image cache reads exceed the image input"
            : AudioCacheRead + ImageCacheRead > totals.CacheRead ? "audio and image cache reads exceed the cache reads"
            : AudioCacheWrite > totals.CacheWrite ? "audio cache writes exceed the cache writes"
            : UncachedInput > totals.Input - totals.CacheRead - totals.CacheWrite - totals.CacheWrite1h ? "uncached audio, image and video input exceed the uncached input"
            : AudioOutput + ImageOutput + totals.Reasoning > totals.Output ? "audio, image and reasoning output exceed the output"
            : null;
    }
}

/// <summary>An event's token counts, cache-inclusive input and reasoning-inclusive output, and their non-text parts.</summary>
public readonly record struct TokenCounts(
    long Input,
    long CacheRead = 0,
    long CacheWrite = 0,
    long CacheWrite1h = 0,
    long Output = 0,
    long Reasoning = 0,
    ModalityCounts Modalities = default)
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
