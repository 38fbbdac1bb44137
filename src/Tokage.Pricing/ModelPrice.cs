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

    /// <summary>Why these parts do not fit <paramref name="totals"/> (the first reason), or null when they do.</summary>
    public string? Misfit(TokenCounts totals) => Misfits(totals).FirstOrDefault()?.Rule;

    /// <summary>
    /// Every way these parts do not fit <paramref name="totals"/>, each naming the usage field to fix (the first count
    /// that no longer fits) and the total it exceeds: the one rule ingestion answers with and pricing refuses by.
    /// </summary>
    public IEnumerable<ModalityMisfit> Misfits(TokenCounts totals)
    {
        (string Field, long Value)[] named =
        [
            ("audio_input_tokens", AudioInput), ("image_input_tokens", ImageInput), ("video_input_tokens", VideoInput),
            ("audio_cache_read_tokens", AudioCacheRead), ("image_cache_read_tokens", ImageCacheRead), ("audio_cache_write_tokens", AudioCacheWrite),
            ("audio_output_tokens", AudioOutput), ("image_output_tokens", ImageOutput),
        ];
        var negative = named.Where(n => n.Value < 0).ToList();
        foreach (var (field, _) in negative)
        {
            yield return new(field, "negative", $"{field} must be non-negative");
        }

        if (negative.Count > 0)
        {
            yield break;
        }

        if (AudioCacheRead + AudioCacheWrite > AudioInput)
        {
            yield return new("audio_cache_read_tokens", "exceeds_audio_input", "audio_cache_read_tokens + audio_cache_write_tokens must not exceed audio_input_tokens");
        }

        if (ImageCacheRead > ImageInput)
        {
            yield return new("image_cache_read_tokens", "exceeds_image_input", "image_cache_read_tokens must not exceed image_input_tokens");
        }

        if (AudioCacheRead + ImageCacheRead > totals.CacheRead)
        {
            yield return new(AudioCacheRead > totals.CacheRead ? "audio_cache_read_tokens" : "image_cache_read_tokens", "exceeds_cache_read",
                "audio_cache_read_tokens + image_cache_read_tokens must not exceed cache_read_tokens");
        }

        if (AudioCacheWrite > totals.CacheWrite)
        {
            yield return new("audio_cache_write_tokens", "exceeds_cache_write", "audio_cache_write_tokens must not exceed cache_write_tokens");
        }

        var uncached = totals.Input - totals.CacheRead - totals.CacheWrite - totals.CacheWrite1h;
        var running = 0L;
        foreach (var (field, part) in new[]
        {
            ("audio_input_tokens", AudioInput - AudioCacheRead - AudioCacheWrite), ("image_input_tokens", ImageInput - ImageCacheRead), ("video_input_tokens", VideoInput),
        })
        {
            running += Math.Max(part, 0);
            if (running > uncached)
            {
                yield return new(field, "exceeds_input", "audio, image and video input beyond their cached parts must not exceed the uncached input");
                break;
            }
        }

        running = totals.Reasoning;
        foreach (var (field, part) in new[] { ("audio_output_tokens", AudioOutput), ("image_output_tokens", ImageOutput) })
        {
            running += part;
            if (running > totals.Output)
            {
                yield return new(field, "exceeds_output", "reasoning_tokens + audio_output_tokens + image_output_tokens must not exceed output_tokens");
                break;
            }
        }
    }
}

/// <summary>One way an event's modality counts do not fit its totals: the usage field to name, a short code, the rule.</summary>
public sealed record ModalityMisfit(string Field, string Code, string Rule);

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
