using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Tokage.Testing;

/// <summary>
/// A local stand-in for Anthropic's Messages API, speaking its documented wire format: <c>POST /v1/messages</c>, JSON or
/// server-sent events (<c>message_start</c> with the input usage, content deltas, <c>message_delta</c> with the output).
/// Anthropic reports input without the cache: <c>input_tokens</c>, <c>cache_creation_input_tokens</c> and
/// <c>cache_read_input_tokens</c> are apart.
/// </summary>
public sealed class FakeAnthropic : IAsyncDisposable
{
    private LocalWebServer server = null!;

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>What each call reports: uncached input, cache writes, cache reads, output.</summary>
    public (int Input, int CacheWrite, int CacheRead, int Output) Usage { get; set; } = (150, 50, 800, 90);

    public List<string> ResponseIds { get; } = [];

    public static async Task<FakeAnthropic> StartAsync()
    {
        var fake = new FakeAnthropic();
        fake.server = await LocalWebServer.StartAsync(app => app.MapPost("/v1/messages", fake.MessagesAsync));
        fake.Endpoint = fake.server.Address;
        return fake;
    }

    private async Task MessagesAsync(HttpContext http)
    {
        var request = (await JsonNode.ParseAsync(http.Request.Body))!;
        var model = (string)request["model"]!;
        var id = "msg_" + Guid.NewGuid().ToString("N");
        lock (ResponseIds)
        {
            ResponseIds.Add(id);
        }

        JsonObject InputUsage(int output) => new()
        {
            ["input_tokens"] = Usage.Input, ["cache_creation_input_tokens"] = Usage.CacheWrite,
            ["cache_read_input_tokens"] = Usage.CacheRead, ["output_tokens"] = output,
        };
        JsonObject Message(JsonArray content, string? stop, JsonObject usage) => new()
        {
            ["id"] = id, ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = content,
            ["stop_reason"] = stop, ["stop_sequence"] = null, ["usage"] = usage,
        };

        if ((bool?)request["stream"] != true)
        {
            await http.Response.WriteAsJsonAsync(Message(new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "Hello from the fake." }), "end_turn", InputUsage(Usage.Output)));
            return;
        }

        http.Response.ContentType = "text/event-stream";
        async Task SendAsync(string name, JsonObject data)
        {
            await http.Response.WriteAsync($"event: {name}\ndata: {data.ToJsonString()}\n\n");
            await http.Response.Body.FlushAsync();
        }

        await SendAsync("message_start", new JsonObject { ["type"] = "message_start", ["message"] = Message([], null, InputUsage(1)) });
        await SendAsync("content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = 0, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } });
        foreach (var text in new[] { "Hello", " from the fake." })
        {
            await SendAsync("content_block_delta", new JsonObject { ["type"] = "content_block_delta", ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = text } });
        }

        await SendAsync("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 });
        await SendAsync("message_delta", new JsonObject
        {
            ["type"] = "message_delta", ["delta"] = new JsonObject { ["stop_reason"] = "end_turn", ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = Usage.Output },
        });
        await SendAsync("message_stop", new JsonObject { ["type"] = "message_stop" });
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();
}
