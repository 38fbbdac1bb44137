namespace Tokage.Pricing.Tests;

/// <summary>The shipped LiteLLM data read into decimals, and model resolution over it.</summary>
public sealed class PriceDataTests
{
    private static readonly Lazy<PriceCatalog> Catalog = new(() => new PriceCatalog(ShippedPrices.Snapshot()));

    [Fact]
    public void TheSnapshotParsesIntoExactDecimals()
    {
        var models = ShippedPrices.Snapshot();
        // 2,521 models with token prices and 144 priced only per image, second or search.
        Assert.Equal(2_665, models.Count);
        var sonnet = models.Single(m => m.Key == "claude-sonnet-4-5");
        Assert.Equal("anthropic", sonnet.Provider);
        Assert.Equal(0.000003m, sonnet.Price.Standard.Input);
        Assert.Equal(0.000015m, sonnet.Price.Standard.Output);
        Assert.Equal(0.0000003m, sonnet.Price.Standard.CacheRead);
        Assert.Equal(0.00000375m, sonnet.Price.Standard.CacheWrite);
        Assert.Equal(0.000006m, sonnet.Price.Standard.CacheWrite1h);
        Assert.Equal(0.0000225m, sonnet.Price.Above200k.Output);
        Assert.Equal(0.000012m, sonnet.Price.Above200k.CacheWrite1h);
        var gpt4o = models.Single(m => m.Key == "gpt-4o");
        Assert.Equal(0.000005m, gpt4o.Price.Batch.Output);
        Assert.Equal(0.000002125m, gpt4o.Price.Priority.CacheRead);
    }

    [Fact]
    public void PricesAreReadFromTheTextNeverThroughADouble()
    {
        // A double would round both of these; decimal keeps every digit written.
        var models = LiteLlmPrices.Parse("""
            {"precise": {"input_cost_per_token": 1.0000000000000000001e-7, "output_cost_per_token": 0.1, "litellm_provider": "x"},
             "sample_spec": {"input_cost_per_token": 0.0},
             "no-prices": {"litellm_provider": "x", "mode": "chat"}}
            """u8);
        var precise = Assert.Single(models);
        Assert.Equal(decimal.Parse("0.00000010000000000000000001", System.Globalization.CultureInfo.InvariantCulture), precise.Price.Standard.Input);
        Assert.Equal(0.1m, precise.Price.Standard.Output);
        Assert.NotEqual((decimal)(double)precise.Price.Standard.Input!.Value, precise.Price.Standard.Input);

        Assert.Throws<FormatException>(() => LiteLlmPrices.Parse("""{"m": {"input_cost_per_token": -1}}"""u8));
        Assert.Throws<FormatException>(() => LiteLlmPrices.Parse("""{"m": {"input_cost_per_token": "cheap"}}"""u8));
    }

    [Fact]
    public void TheChangeHistoryReadsIntoDecimalsToo()
    {
        using var history = System.Text.Json.JsonDocument.Parse(ShippedPrices.ChangeHistory());
        var changes = history.RootElement.GetProperty("changes").EnumerateArray().ToList();
        Assert.True(changes.Count > 100);
        var first = changes[0];
        var @new = LiteLlmPrices.Read(name => first.GetProperty("new").TryGetProperty(name, out var v) ? v : null);
        Assert.Equal(0.00000015m, @new.Standard.Input);
        Assert.Equal(0.0000006m, @new.Standard.Output);
    }

    public static TheoryData<string, string, string?, Resolution?> Resolutions => new()
    {
        { "openai", "gpt-4o", "gpt-4o", Resolution.Exact },
        { "openai.responses", "gpt-4o", "gpt-4o", Resolution.Exact },
        { "openai.chat", "gpt-4o-mini", "gpt-4o-mini", Resolution.Exact },
        { "anthropic.messages", "claude-sonnet-4-5", "claude-sonnet-4-5", Resolution.Exact },
        { "google.generative-ai", "gemini-2.5-pro", "gemini/gemini-2.5-pro", Resolution.Exact },
        { "azure.ai.openai", "gpt-4o", "azure/gpt-4o", Resolution.Exact },
        { "", "openai/gpt-4o", "gpt-4o", Resolution.Exact },
        { "anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5", Resolution.Exact },
        { "anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929", Resolution.Exact },
        { "gcp.gemini", "gemini-2.5-pro", "gemini/gemini-2.5-pro", Resolution.Exact },
        { "gcp.vertex_ai", "gemini-2.5-pro", "gemini-2.5-pro", Resolution.Exact },
        { "aws.bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0", Resolution.Exact },
        { "", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0", Resolution.Exact },
        { "my-gateway", "gpt-4o", "gpt-4o", Resolution.Model },
        { "openai", "gpt-4o-2024-08-06", "gpt-4o-2024-08-06", Resolution.Exact },
        { "openai", "gpt-4o-2099-01-31", "gpt-4o", Resolution.DatedToBase },
        { "anthropic", "claude-sonnet-4-5-20991231", "claude-sonnet-4-5", Resolution.DatedToBase },
        // Provider resource and routing names, priced as the model they name (reported as sent).
        { "gcp.vertex_ai", "projects/acme/locations/us-central1/publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro", Resolution.Normalized },
        { "gcp.vertex_ai", "publishers/anthropic/models/claude-sonnet-4-5@20250929", "vertex_ai/claude-sonnet-4-5@20250929", Resolution.Normalized },
        { "gcp.vertex_ai", "claude-sonnet-4-5@20250929", "vertex_ai/claude-sonnet-4-5@20250929", Resolution.Exact },
        { "aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Resolution.Exact },
        { "aws.bedrock", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Resolution.Normalized },
        { "aws.bedrock", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20241022-v2:0", "anthropic.claude-3-5-sonnet-20241022-v2:0", Resolution.Normalized },
        { "aws.bedrock", "apac.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0", Resolution.Normalized },
        { "openrouter", "anthropic/claude-sonnet-4.5", "openrouter/anthropic/claude-sonnet-4.5", Resolution.Normalized },
        { "", "anthropic/claude-sonnet-4.5", "openrouter/anthropic/claude-sonnet-4.5", Resolution.Normalized },
        { "anthropic", "claude-sonnet-4.5", "claude-sonnet-4-5", Resolution.Normalized },
        { "googleai", "googleai/gemini-2.5-flash", "gemini/gemini-2.5-flash", Resolution.Exact },
        { "azure", "my-gpt4o-prod", null, null },
        { "openai", "no-such-model", null, null },
        { "openai", "no-such-model-2099-01-31", null, null },
    };

    [Theory]
    [MemberData(nameof(Resolutions))]
    public void ModelsResolveAsDocumented(string provider, string model, string? expectedKey, Resolution? how)
    {
        var resolved = Catalog.Value.Resolve(provider, model);
        Assert.Equal(expectedKey, resolved?.Model.Key);
        Assert.Equal(how, resolved?.How);
    }

    /// <summary>
    /// Per-unit prices as LiteLLM lists them: an input image, a second (output's rate, else input's), a web search at the
    /// medium context size; models priced only so are in the catalog too.
    /// </summary>
    [Fact]
    public void PerUnitPricesAreReadAndUnitsOnlyModelsAreKept()
    {
        var models = ShippedPrices.Snapshot().ToDictionary(m => m.Key);

        Assert.Equal(new UnitRates(InputImage: 0.04m), models["dall-e-3"].Price.Units);
        Assert.Equal(new UnitRates(AudioSecond: 0.0001m), models["whisper-1"].Price.Units);
        Assert.Equal(0.035m, models["gpt-4o-search-preview"].Price.Units.WebSearchQuery);
        Assert.False(models["whisper-1"].Price.HasTokenPrices);
    }
}
