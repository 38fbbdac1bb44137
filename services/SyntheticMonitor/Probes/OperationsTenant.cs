using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Tokage.SyntheticMonitor.Probes;

/// <summary>
/// The operations tenant the probes belong to: found by name, or created on first start (with the control plane's admin
/// token); each start mints a fresh ingest+read key named <c>synthetic-monitor</c> and revokes the ones before it.
/// </summary>
public sealed class OperationsTenant(IHttpClientFactory clients, IOptions<MonitorOptions> options, ILogger<OperationsTenant> logger)
{
    public const string HttpClientName = "control-plane";
    public const string KeyName = "synthetic-monitor";

    private readonly TaskCompletionSource<(string TenantId, string ApiKey)> ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The tenant's id and the monitor's key, once <see cref="EnsureAsync"/> has them.</summary>
    public Task<(string TenantId, string ApiKey)> ReadyAsync(CancellationToken cancellationToken) => ready.Task.WaitAsync(cancellationToken);

    /// <summary>Until the control plane answers: finds or creates the tenant, then replaces the monitor's key.</summary>
    public async Task EnsureAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var result = await TryEnsureAsync(cancellationToken);
                ready.TrySetResult(result);
                logger.LogInformation("Probing as tenant {Tenant} ({TenantId}).", options.Value.TenantName, result.TenantId);
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("The operations tenant is not ready (attempt {Attempt}): {Error}", attempt, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, attempt * 2)), cancellationToken);
            }
        }
    }

    private async Task<(string TenantId, string ApiKey)> TryEnsureAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        using var http = clients.CreateClient(HttpClientName);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", settings.AdminToken);

        string tenantId;
        using (var found = await http.GetAsync($"/v1/tenants/{Uri.EscapeDataString(settings.TenantName)}", cancellationToken))
        {
            if (found.StatusCode == HttpStatusCode.NotFound)
            {
                using var created = await http.PostAsJsonAsync("/v1/tenants", new { name = settings.TenantName, create_key = false }, cancellationToken);
                tenantId = (string)(await ReadAsync(created, cancellationToken))["tenant_id"]!;
                logger.LogInformation("Created the operations tenant {Tenant}.", settings.TenantName);
            }
            else
            {
                tenantId = (string)(await ReadAsync(found, cancellationToken))["tenant_id"]!;
            }
        }

        var before = (await ReadAsync(await http.GetAsync($"/v1/tenants/{tenantId}/keys", cancellationToken), cancellationToken))["keys"]!.AsArray()
            .Where(k => (string?)k!["name"] == KeyName && (string?)k["status"] == "active").Select(k => (string)k!["id"]!).ToList();
        using var minted = await http.PostAsJsonAsync($"/v1/tenants/{tenantId}/keys", new { name = KeyName, scopes = new[] { "ingest", "read" } }, cancellationToken);
        var apiKey = (string)(await ReadAsync(minted, cancellationToken))["api_key"]!;
        foreach (var old in before)
        {
            using var revoked = await http.PostAsync($"/v1/tenants/{tenantId}/keys/{old}/revoke", null, cancellationToken);
        }

        return (tenantId, apiKey);
    }

    private static async Task<JsonNode> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}: {(int)response.StatusCode} {body}");
        }

        return JsonNode.Parse(body)!;
    }
}
