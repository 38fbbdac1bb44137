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

    // gpt-4o-realtime-preview: audio in and out at their own rates, a text cache rate and no audio cache rate.
    private static readonly ModelPrice Realtime = new()
    {
        Standard = new(Input: 0.000005m, Output: 0.00002m, CacheRead: 0.0000025m),
        Modalities = new(AudioInput: 0.00004m, AudioOutput: 0.00008m),
    };

    // gpt-image-1: image tokens in and out at their own rates.
    private static readonly ModelPrice Image = new()
    {
        Standard = new(Input: 0.000005m, Output: 0m, CacheRead: 0.00000125m),
        Modalities = new(ImageInput: 0.00001m, ImageOutput: 0.00004m),
    };

    // A model with every modality rate (as some Gemini and realtime entries have), to cover each bucket's share.
    private static readonly ModelPrice AllModalities = new()
    {
        Standard = new(Input: 0.000001m, Output: 0.000004m, CacheRead: 0.0000001m, CacheWrite: 0.0000015m, CacheWrite1h: 0.000002m, Reasoning: 0.000005m),
        Modalities = new(AudioInput: 0.00001m, ImageInput: 0.000003m, AudioCacheRead: 0.000001m, AudioCacheWrite: 0.00002m, AudioOutput: 0.00003m, ImageOutput: 0.00006m),
    };

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
        // 600 text + 400 audio uncached, 200 cached (100 of them audio, at the text cache rate: no audio cache rate), 300 text + 500 audio out
        { "realtime audio at its own rates", Realtime, new(1_200, 200, 0, 0, 800, 0, new(AudioInput: 500, AudioCacheRead: 100, AudioOutput: 500)), ServiceTier.Standard,
            600 * 0.000005m + 400 * 0.00004m + 200 * 0.0000025m + 300 * 0.00002m + 500 * 0.00008m },
        { "image tokens in and out", Image, new(5_000, 1_000, 0, 0, 4_160, 0, new(ImageInput: 4_000, ImageCacheRead: 1_000, ImageOutput: 4_160)), ServiceTier.Standard,
            1_000 * 0.000005m + 3_000 * 0.00001m + 1_000 * 0.00000125m + 4_160 * 0.00004m },
        { "audio on a model without audio rates pays text rates", Gpt4o, new(1_000, 0, 0, 0, 100, 0, new(AudioInput: 1_000, AudioOutput: 100)), ServiceTier.Standard,
            1_000 * 0.0000025m + 100 * 0.00001m },
        { "video input pays the input rate", AllModalities, new(1_000, 0, 0, 0, 0, 0, new(VideoInput: 700)), ServiceTier.Standard, 1_000 * 0.000001m },
        { "every modality share in every bucket", AllModalities,
            new(10_000, 3_000, 2_000, 500, 5_000, 1_000, new(AudioInput: 4_000, ImageInput: 2_000, VideoInput: 500, AudioCacheRead: 1_000, ImageCacheRead: 500, AudioCacheWrite: 1_500, AudioOutput: 2_000, ImageOutput: 1_000)),
            ServiceTier.Standard,
            // uncached 4,500: audio 1,500, image 1,500, video 500 (input rate), text 1,000
            1_000 * 0.000001m + 1_500 * 0.00001m + 1_500 * 0.000003m + 500 * 0.000001m
            // cache reads 3,000: audio 1,000 at its rate, image 500 and text 1,500 at the text cache rate
            + 1_000 * 0.000001m + 2_000 * 0.0000001m
            // 5-minute writes 2,000: audio 1,500 at its rate; 1-hour writes 500
            + 1_500 * 0.00002m + 500 * 0.0000015m + 500 * 0.000002m
            // output 5,000: reasoning 1,000, audio 2,000, image 1,000, text 1,000
            + 1_000 * 0.000005m + 2_000 * 0.00003m + 1_000 * 0.00006m + 1_000 * 0.000004m },
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
        foreach (var (price, tier) in new[]
        {
            (Sonnet, ServiceTier.Standard), (Gpt4o, ServiceTier.Priority), (Gpt4o, ServiceTier.Batch), (WithReasoningRate, ServiceTier.Standard),
            (NoCacheRates, ServiceTier.Flex), (Realtime, ServiceTier.Standard), (AllModalities, ServiceTier.Standard), (Image, ServiceTier.Batch),
        })
        {
            for (var i = 0; i < 2_000; i++)
            {
                var whole = RandomCounts(random, maxInput: 200_000);
                // Split every cell of every bucket (text, audio, image, video; uncached, cached, written; output kinds) at random.
                var cells = Cells(whole);
                var firstCells = cells.Select(c => random.NextInt64(0, c + 1)).ToArray();
                var first = FromCells(firstCells);
                var second = FromCells(cells.Zip(firstCells, (c, f) => c - f).ToArray());
                Assert.Equal(whole, FromCells(cells));

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
        Assert.Throws<ArgumentException>(() => CostCalculator.Compute(new TokenCounts(100, 0, 0, 0, 0, 0, new(AudioInput: 101)), Realtime));
        Assert.Throws<ArgumentException>(() => CostCalculator.Compute(new TokenCounts(100, 10, 0, 0, 0, 0, new(AudioInput: 50, AudioCacheRead: 11)), Realtime));
        Assert.Throws<ArgumentException>(() => CostCalculator.Compute(new TokenCounts(100, 0, 0, 0, 10, 5, new(AudioOutput: 6)), Realtime));
        Assert.Throws<ArgumentException>(() => CostCalculator.Compute(new TokenCounts(100, 0, 0, 0, 0, 0, new(ImageInput: 10, ImageCacheRead: 11)), Image));
    }

    /// <summary>
    /// An event's counts as disjoint cells: uncached text, audio, image, video; cache reads of text, audio, image; 5-minute
    /// writes of text, audio; 1-hour writes; output text, audio, image, reasoning.
    /// </summary>
    private static long[] Cells(TokenCounts t)
    {
        var m = t.Modalities;
        var (uncachedAudio, uncachedImage) = (m.AudioInput - m.AudioCacheRead - m.AudioCacheWrite, m.ImageInput - m.ImageCacheRead);
        var uncached = t.Input - t.CacheRead - t.CacheWrite - t.CacheWrite1h;
        return
        [
            uncached - uncachedAudio - uncachedImage - m.VideoInput, uncachedAudio, uncachedImage, m.VideoInput,
            t.CacheRead - m.AudioCacheRead - m.ImageCacheRead, m.AudioCacheRead, m.ImageCacheRead,
            t.CacheWrite - m.AudioCacheWrite, m.AudioCacheWrite, t.CacheWrite1h,
            t.Output - t.Reasoning - m.AudioOutput - m.ImageOutput, m.AudioOutput, m.ImageOutput, t.Reasoning,
        ];
    }

    private static TokenCounts FromCells(long[] c) => new(
        Input: c[..10].Sum(), CacheRead: c[4] + c[5] + c[6], CacheWrite: c[7] + c[8], CacheWrite1h: c[9],
        Output: c[10] + c[11] + c[12] + c[13], Reasoning: c[13],
        Modalities: new ModalityCounts(AudioInput: c[1] + c[5] + c[8], ImageInput: c[2] + c[6], VideoInput: c[3],
            AudioCacheRead: c[5], ImageCacheRead: c[6], AudioCacheWrite: c[8], AudioOutput: c[11], ImageOutput: c[12]));

    private static TokenCounts RandomCounts(Random random, long maxInput)
    {
        var input = random.NextInt64(0, maxInput + 1);
        var cacheRead = random.NextInt64(0, input / 2 + 1);
        var cacheWrite = random.NextInt64(0, (input - cacheRead) / 2 + 1);
        var cacheWrite1h = random.NextInt64(0, (input - cacheRead - cacheWrite) / 2 + 1);
        var output = random.NextInt64(0, 50_000);
        var reasoning = random.NextInt64(0, output / 3 + 1);
        // Modalities inside each bucket: audio and image cached and written parts, then uncached parts, audio and image output.
        var audioCacheRead = random.NextInt64(0, cacheRead / 2 + 1);
        var imageCacheRead = random.NextInt64(0, cacheRead - audioCacheRead + 1);
        var audioCacheWrite = random.NextInt64(0, cacheWrite + 1);
        var uncached = input - cacheRead - cacheWrite - cacheWrite1h;
        var uncachedAudio = random.NextInt64(0, uncached / 3 + 1);
        var uncachedImage = random.NextInt64(0, uncached / 3 + 1);
        var video = random.NextInt64(0, uncached - uncachedAudio - uncachedImage + 1);
        var audioOutput = random.NextInt64(0, (output - reasoning) / 2 + 1);
        var imageOutput = random.NextInt64(0, output - reasoning - audioOutput + 1);
        var modalities = new ModalityCounts(uncachedAudio + audioCacheRead + audioCacheWrite, uncachedImage + imageCacheRead, video,
            audioCacheRead, imageCacheRead, audioCacheWrite, audioOutput, imageOutput);
        return new TokenCounts(input, cacheRead, cacheWrite, cacheWrite1h, output, reasoning, random.Next(4) == 0 ? default : modalities);
    }

    /// <summary>Units are priced at their own rates beside the tokens, and an event is priceable only when every part it reports has a rate.</summary>
    [Fact]
    public void UnitsArePricedWhereTheModelHasTheirRateAndNeverGuessed()
    {
        var search = new ModelPrice { Standard = new(Input: 0.0000025m, Output: 0.00001m), Units = new(WebSearchQuery: 0.035m) };
        var whisper = new ModelPrice { Standard = new(), Units = new(AudioSecond: 0.0001m) };
        var tokens = new TokenCounts(1_000, Output: 100);

        Assert.Equal(1_000 * 0.0000025m + 100 * 0.00001m + 3 * 0.035m, CostCalculator.Compute(tokens, search, units: new(WebSearchQueries: 3)).TotalUsd);
        Assert.Equal(90.5m * 0.0001m, CostCalculator.Compute(default, whisper, units: new(AudioSeconds: 90.5m)).TotalUsd);

        Assert.True(search.CanPrice(tokens, new(WebSearchQueries: 3)));
        Assert.True(whisper.CanPrice(default, new(AudioSeconds: 90.5m)));
        Assert.False(whisper.CanPrice(tokens, new(AudioSeconds: 1m)));    // tokens, but no token rates
        Assert.False(search.CanPrice(tokens, new(Images: 1)));             // an image, but no image rate
        Assert.False(Gpt4o.CanPrice(tokens, new(WebSearchQueries: 1)));    // a search, but no search rate
        Assert.True(Gpt4o.CanPrice(tokens, default));
        Assert.Throws<ArgumentException>(() => CostCalculator.Compute(tokens, search, units: new(WebSearchQueries: -1)));
    }
}
