using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Components.Authorization;

namespace Tokage.Console.Api;

/// <summary>The Tokage services the console calls — each through its public API, as the member.</summary>
public enum TokageService
{
    ControlPlane,
    QueryApi,
    PriceRegistry,
    Billing,
    Ingestion,
    Audit,
}

/// <summary>
/// The console's one way to the APIs: every call carries the signed-in member's session token, so each service decides
/// what the member may see and do (no console-only path). A 401 means the session ended (signed out elsewhere, role changed).
/// </summary>
public sealed class TokageApi(IHttpClientFactory clients, AuthenticationStateProvider authentication)
{
    public async Task<ConsoleSession> SessionAsync()
    {
        var state = await authentication.GetAuthenticationStateAsync();
        return ConsoleSession.From(state.User) ?? throw new ApiProblem(HttpStatusCode.Unauthorized, "Not signed in.");
    }

    public async Task<JsonObject> GetAsync(TokageService service, string path, CancellationToken cancellationToken = default) =>
        await SendAsync(service, HttpMethod.Get, path, null, cancellationToken);

    public async Task<JsonObject> PostAsync(TokageService service, string path, object? body, CancellationToken cancellationToken = default) =>
        await SendAsync(service, HttpMethod.Post, path, body, cancellationToken);

    public async Task<JsonObject> DeleteAsync(TokageService service, string path, CancellationToken cancellationToken = default) =>
        await SendAsync(service, HttpMethod.Delete, path, null, cancellationToken);

    public async Task<JsonObject> PutAsync(TokageService service, string path, object? body, CancellationToken cancellationToken = default) =>
        await SendAsync(service, HttpMethod.Put, path, body, cancellationToken);

    public async Task<JsonObject> PatchAsync(TokageService service, string path, object? body, CancellationToken cancellationToken = default) =>
        await SendAsync(service, HttpMethod.Patch, path, body, cancellationToken);

    /// <summary>A response as it came (CSV, PDF), for the console's download endpoints to pass on.</summary>
    public async Task<HttpResponseMessage> GetRawAsync(TokageService service, string path, string token, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await clients.CreateClient(service.ToString()).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await ApiProblem.ReadAsync(response, cancellationToken);
            }
        }

        return response;
    }

    private async Task<JsonObject> SendAsync(TokageService service, HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        var session = await SessionAsync();
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session.Token);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await clients.CreateClient(service.ToString()).SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await ApiProblem.ReadAsync(response, cancellationToken);
        }

        return response.StatusCode == HttpStatusCode.NoContent
            ? []
            : JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken)) as JsonObject ?? [];
    }
}
