using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tokage.Cli;

/// <summary>An admin REST API (the control plane's, the billing pipeline's); a non-2xx answer becomes a <see cref="CliException"/> with its problem detail.</summary>
internal sealed class AdminApiClient(CliConnection connection, string service = "the control plane") : IDisposable
{
    private readonly HttpClient http = new()
    {
        BaseAddress = connection.Url,
        Timeout = TimeSpan.FromSeconds(30),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", connection.AdminToken) },
    };

    public Task<JsonNode?> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, cancellationToken);

    public Task<JsonNode?> PostAsync(string path, object body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Post, path, body, cancellationToken);

    public Task<JsonNode?> PatchAsync(string path, object body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Patch, path, body, cancellationToken);

    public Task<JsonNode?> PutAsync(string path, object body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Put, path, body, cancellationToken);

    public Task<JsonNode?> DeleteAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Delete, path, null, cancellationToken);

    /// <summary>A file the API renders (an invoice's PDF or CSV).</summary>
    public async Task<byte[]> GetBytesAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(path.TrimStart('/'), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new CliException(Describe(response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken)));
        }

        return await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    public void Dispose() => http.Dispose();

    /// <summary>A file sent as it is (a provider's cost report), with its media type.</summary>
    public Task<JsonNode?> PostFileAsync(string path, byte[] content, string mediaType, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, path, new ByteArrayContent(content) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } }, cancellationToken);

    private Task<JsonNode?> SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken) =>
        SendAsync(method, path, body is null ? null : JsonContent.Create(body, options: new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }), cancellationToken);

    private async Task<JsonNode?> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/')) { Content = content };

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new CliException($"Cannot reach {service} at {connection.Url} ({ex.Message}). Is the AppHost running (./run.sh)? Otherwise pass {service switch { "the control plane" => "--url", "the audit log" => "--audit-url", _ => "--billing-url" }}.");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return text.Length == 0 ? null : JsonNode.Parse(text);
            }

            throw new CliException(Describe(response.StatusCode, text)) { Status = response.StatusCode };
        }
    }

    private static string Describe(HttpStatusCode status, string body)
    {
        var prefix = $"{(int)status} {status}";
        try
        {
            var problem = JsonNode.Parse(body);
            var detail = (string?)problem?["detail"] ?? (string?)problem?["title"];
            var errors = problem?["errors"]?.AsObject().SelectMany(e => e.Value!.AsArray().Select(m => (string?)m)).ToList();
            return errors is { Count: > 0 } ? $"{prefix}: {string.Join(" ", errors)}" : $"{prefix}: {detail ?? body}";
        }
        catch (JsonException)
        {
            return $"{prefix}: {body}";
        }
    }
}
