using System.ClientModel;
using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenAI;
using Tokage.Client;
using Tokage.Testing;

namespace Tokage.Bench;

/// <summary>
/// What the .NET SDK costs the app: chat calls through OpenAI's client to a local fake of OpenAI's API (1 ms of
/// provider latency), metered by <c>UseTokage()</c> while Tokage is up, away (nothing listens), slow (every ingest call
/// takes 5 s, then fails) and refusing (a key it does not know) — each beside the same call without the SDK,
/// alternating, in the same run. The app's latency should not move whatever Tokage does.
/// </summary>
internal static class SdkBenchmark
{
    public static Command CreateCommand()
    {
        var calls = new Option<int>("--calls") { Description = "Timed calls per mode (and as many bare ones).", DefaultValueFactory = _ => 2_000 };
        var quick = new Option<bool>("--quick") { Description = "200 calls per mode: a smoke run." };
        var json = new Option<string>("--json") { Description = "Where the JSON report goes.", DefaultValueFactory = _ => ".tokage/bench/sdk.json" };
        var command = new Command("sdk", "The app's call latency with the .NET SDK while Tokage is up, away, slow or refusing, beside the bare call.") { calls, quick, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var report = new BenchReport("sdk");
            await RunAsync(parse.GetValue(quick) ? 200 : parse.GetValue(calls), report, cancellationToken);
            report.PrintMarkdown(Console.Out);
            await report.WriteJsonAsync(parse.GetValue(json)!);
            return 0;
        });
        return command;
    }

    private static async Task RunAsync(int calls, BenchReport report, CancellationToken cancellationToken)
    {
        report.Parameter("calls", calls);
        var stack = new ControlPlaneStack { Settings = new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning" } };
        await Progress.StepAsync("starting PostgreSQL, Redis, the control plane, auth and ingestion", stack.InitializeAsync);
        await using var provider = await FakeOpenAI.StartAsync();
        provider.Latency = TimeSpan.FromMilliseconds(1);
        await using var slow = await SlowIngestAsync(TimeSpan.FromSeconds(5));
        try
        {
            var ingestion = await stack.StartIngestionAsync();
            var key = (string)(await stack.PostAsync("/v1/tenants", new { name = "bench-sdk" }))["api_key"]!;
            var openAi = new OpenAIClient(new ApiKeyCredential("sk-fake"), new OpenAIClientOptions { Endpoint = provider.Endpoint });
            var bare = openAi.GetChatClient("gpt-4o").AsIChatClient();
            var modes = new (string Mode, Uri Endpoint, string Key)[]
            {
                ("Tokage up", ingestion.GrpcUri, key),
                ("Tokage away (nothing listens)", new Uri("http://127.0.0.1:9"), key),
                ("Tokage slow (5 s, then unavailable)", slow.Uri, key),
                ("Tokage refusing the key", ingestion.GrpcUri, "tok_live_" + new string('x', 40)),
            };
            foreach (var (mode, endpoint, apiKey) in modes)
            {
                await using var tokage = new TokageClient(Options.Create(new TokageOptions { ApiKey = apiKey, Endpoint = endpoint, ShutdownTimeout = TimeSpan.FromMilliseconds(200) }));
                await tokage.StartAsync(cancellationToken);
                var metered = bare.AsBuilder().UseTokage(tokage).Build();
                var (withSdk, without) = await Progress.StepAsync($"{calls:N0} calls with the SDK ({mode}) and as many without", () => Sampling.PairAsync(calls, 50,
                    async () => await metered.GetResponseAsync("Hello?", cancellationToken: cancellationToken),
                    async () => await bare.GetResponseAsync("Hello?", cancellationToken: cancellationToken)));
                report.Add(new Measurement($"chat call with the SDK, {mode}, p50", Statistics.Median(withSdk), "ms", "the same call without it", Statistics.Median(without)));
                report.Add(new Measurement($"chat call with the SDK, {mode}, p99", Statistics.Percentile(withSdk, 99), "ms", "the same call without it", Statistics.Percentile(without, 99)));
                var counts = tokage.Statistics;
                Console.WriteLine($"  {mode}: tracked {counts.Tracked}, sent {counts.Sent}, retries {counts.Retries}, dropped {counts.DroppedOldest + counts.Dropped}");
            }
        }
        finally
        {
            await stack.DisposeAsync();
        }
    }

    /// <summary>An HTTP/2 endpoint where every call waits <paramref name="delay"/> and then answers 503 (gRPC: UNAVAILABLE).</summary>
    private static async Task<SlowEndpoint> SlowIngestAsync(TimeSpan delay)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        app.MapPost("/{**path}", async () =>
        {
            await Task.Delay(delay);
            return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SlowEndpoint(app, new Uri(address));
    }

    private sealed class SlowEndpoint(WebApplication app, Uri uri) : IAsyncDisposable
    {
        public Uri Uri { get; } = uri;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
