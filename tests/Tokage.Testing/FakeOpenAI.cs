using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Tokage.Testing;

/// <summary>
/// A local stand-in for OpenAI's API, speaking its documented wire format: <c>POST /v1/chat/completions</c> (JSON, or
/// server-sent events ending with a usage chunk when <c>stream_options.include_usage</c> is set) and
/// <c>POST /v1/embeddings</c>. The usage it reports is <see cref="Usage"/>, so a test knows what Tokage must count.
/// </summary>
public sealed class FakeOpenAI : IAsyncDisposable
{
    private LocalWebServer server = null!;

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>What each call reports: prompt tokens (cached among them) and completion tokens (reasoning among them).</summary>
    public (int Prompt, int Cached, int Completion, int Reasoning) Usage { get; set; } = (1_200, 400, 300, 100);

    /// <summary>How long each call takes before it answers (a provider's own latency, for benchmarks).</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>A stream that ends without its usage chunk, as some providers' streams do.</summary>
    public bool OmitStreamUsage { get; set; }

    /// <summary>The model the last chat call asked for.</summary>
    public string? LastModel { get; private set; }

    /// <summary>The response ids it gave, in order.</summary>
    public List<string> ResponseIds { get; } = [];

    public static async Task<FakeOpenAI> StartAsync()
    {
        var fake = new FakeOpenAI();
        fake.server = await LocalWebServer.StartAsync(app =>
        {
            app.MapPost("/v1/chat/completions", fake.ChatAsync);
            app.MapPost("/v1/embeddings", fake.EmbeddingsAsync);
        });
        fake.Endpoint = new Uri(fake.server.Address, "/v1");
        return fake;
    }

    private async Task ChatAsync(HttpContext http)
    {
        var request = (await JsonNode.ParseAsync(http.Request.Body))!;
        if (Latency > TimeSpan.Zero)
        {
            await Task.Delay(Latency);
        }

        var model = (string)request["model"]!;
        LastModel = model;
        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        lock (ResponseIds)
        {
            ResponseIds.Add(id);
        }

        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var usage = new JsonObject
        {
            ["prompt_tokens"] = Usage.Prompt, ["completion_tokens"] = Usage.Completion, ["total_tokens"] = Usage.Prompt + Usage.Completion,
            ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = Usage.Cached, ["audio_tokens"] = 0 },
            ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = Usage.Reasoning, ["audio_tokens"] = 0 },
        };
        if ((bool?)request["stream"] != true)
        {
            await http.Response.WriteAsJsonAsync(new JsonObject
            {
                ["id"] = id, ["object"] = "chat.completion", ["created"] = created, ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0, ["finish_reason"] = "stop",
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = "Hello from the fake." },
                }),
                ["usage"] = usage,
            });
            return;
        }

        http.Response.ContentType = "text/event-stream";
        async Task SendAsync(JsonObject chunk)
        {
            await http.Response.WriteAsync("data: " + chunk.ToJsonString() + "\n\n");
            await http.Response.Body.FlushAsync();
        }

        JsonObject Chunk(JsonArray choices) => new() { ["id"] = id, ["object"] = "chat.completion.chunk", ["created"] = created, ["model"] = model, ["choices"] = choices };
        foreach (var (text, finish) in new[] { ("Hello", (string?)null), (" from the fake.", "stop") })
        {
            await SendAsync(Chunk(new JsonArray(new JsonObject
            {
                ["index"] = 0, ["delta"] = new JsonObject { ["content"] = text }, ["finish_reason"] = finish,
            })));
        }

        var includeUsage = (bool?)request["stream_options"]?["include_usage"] == true;
        if (includeUsage && !OmitStreamUsage)
        {
            var last = Chunk([]);
            last["usage"] = usage;
            await SendAsync(last);
        }

        await http.Response.WriteAsync("data: [DONE]\n\n");
    }

    private async Task EmbeddingsAsync(HttpContext http)
    {
        var request = (await JsonNode.ParseAsync(http.Request.Body))!;
        var inputs = request["input"] is JsonArray many ? many.Count : 1;
        await http.Response.WriteAsJsonAsync(new JsonObject
        {
            ["object"] = "list",
            ["model"] = (string)request["model"]!,
            ["data"] = new JsonArray([.. Enumerable.Range(0, inputs).Select(i => (JsonNode)new JsonObject
            {
                ["object"] = "embedding", ["index"] = i, ["embedding"] = new JsonArray(0.1, 0.2, 0.3),
            })]),
            ["usage"] = new JsonObject { ["prompt_tokens"] = 42, ["total_tokens"] = 42 },
        }, new JsonSerializerOptions());
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();
}
