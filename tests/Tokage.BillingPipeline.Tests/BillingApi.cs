using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tokage.Analytics;

namespace Tokage.BillingPipeline.Tests;

/// <summary>A tenant with a billing key, talking to a billing-pipeline process as a user would.</summary>
public sealed class BillingApi : IDisposable
{
    private readonly HttpClient http;

    private BillingApi(HttpClient http, string tenantId)
    {
        this.http = http;
        TenantId = tenantId;
    }

    public string TenantId { get; }

    public static async Task<BillingApi> ForNewTenantAsync(BudgetFixture fixture, ServiceProcess billing, string name, string[]? scopes = null) =>
        await ForTenantAsync(fixture, billing, (string)(await fixture.Stack.CreateTenantAsync(name))["tenant_id"]!, scopes);

    public static async Task<BillingApi> ForTenantAsync(BudgetFixture fixture, ServiceProcess billing, string tenant, string[]? scopes = null)
    {
        var key = await fixture.Stack.PostAsync($"/v1/tenants/{tenant}/keys", new { name = "billing", scopes = scopes ?? ["billing"] });
        var http = new HttpClient { BaseAddress = billing.HttpUri, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)key["api_key"]!);
        return new BillingApi(http, tenant);
    }

    public async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public async Task<JsonNode> OkAsync(HttpMethod method, string path, object? body = null)
    {
        var (status, json) = await SendAsync(method, path, body);
        Assert.True((int)status is >= 200 and < 300, $"{method} {path}: {(int)status} {json?.ToJsonString()}");
        return json!;
    }

    public Task<byte[]> BytesAsync(string path) => http.GetByteArrayAsync(path);

    /// <summary>A body sent as it is (a provider's report), with its media type.</summary>
    public async Task<(HttpStatusCode Status, JsonNode? Body)> SendBytesAsync(HttpMethod method, string path, byte[] content, string mediaType)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(content) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public static UsageEventRow Event(string tenant, DateTime at, string customer, ulong input, decimal cost, string model = "gpt-4o") => new()
    {
        TenantId = tenant, EventId = Guid.NewGuid().ToString("N"), EventTime = at, IngestTime = at, Provider = "openai", Model = model,
        Application = "support-bot", Customer = customer, InputTokens = input, OutputTokens = 10, Priced = true, CostUsd = cost,
    };

    public void Dispose() => http.Dispose();
}
