using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tokage.EventProcessor.Tests;

/// <summary>
/// The processor's price feed is one long-lived gRPC stream: no generic HTTP timeout may cut it. Held open for two
/// minutes (four times the standard resilience handler's 30 s total timeout), it logs no interruption and no error,
/// and a price added then still arrives over the same stream.
/// </summary>
public sealed class PriceFeedTests(ProcessingStack stack) : IClassFixture<ProcessingStack>
{
    private static readonly TimeSpan Held = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task TheFeedStaysOpenForTwoMinutesWithoutErrorsAndAPriceAddedThenStillArrives()
    {
        var processor = stack.Processor!;
        await ControlPlaneStack.EventuallyAsync(() => Task.FromResult(processor.Output.Contains("Price book loaded")), TimeSpan.FromSeconds(60), "the first snapshot is loaded");
        await Task.Delay(Held);

        using var admin = new HttpClient { BaseAddress = stack.PriceRegistry.HttpUri };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ControlPlaneStack.AdminToken);
        using var created = await admin.PostAsJsonAsync("/v1/prices", new
        {
            provider = "openai", model = "feed-hold-" + Guid.NewGuid().ToString("N")[..8], effective_from = DateTimeOffset.UtcNow, source = "test",
            prices = new Dictionary<string, string> { ["input_cost_per_token"] = "0.000001", ["output_cost_per_token"] = "0.000002" },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var versionId = (long)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["version_id"]!;
        await ControlPlaneStack.EventuallyAsync(() => Task.FromResult(processor.Output.Contains($"Price version {versionId} added")), TimeSpan.FromSeconds(20), "the new version arrives");

        Assert.Equal(0, processor.CountInOutput("Price registry feed interrupted"));
        Assert.Equal(1, processor.CountInOutput("Price book loaded"));
        var errors = processor.Output.Split('\n').Where(line => line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, "errors logged:\n" + string.Join('\n', errors));
    }
}
