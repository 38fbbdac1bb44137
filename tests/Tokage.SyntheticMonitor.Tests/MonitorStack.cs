using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Tokage.SyntheticMonitor.Tests;

/// <summary>
/// The processing stack with the synthetic monitor beside it, on a fast schedule (a probe per path every 2 s, SLO
/// windows of 60 s and 8 s), and a webhook receiver for its alerts.
/// </summary>
public sealed class MonitorStack : IAsyncLifetime
{
    public const string AlertSecret = "monitor-alert-secret";

    public ProcessingStack Stack { get; } = new();

    public ServiceProcess Monitor { get; private set; } = null!;

    /// <summary>Every alert body the receiver got, with its signature header.</summary>
    public ConcurrentQueue<(string Body, string Signature)> Alerts { get; } = new();

    private LocalWebServer receiver = null!;

    public async Task InitializeAsync()
    {
        await Stack.InitializeAsync();
        receiver = await LocalWebServer.StartAsync(app => app.MapPost("/alerts", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            Alerts.Enqueue((await reader.ReadToEndAsync(), http.Request.Headers["Tokage-Signature"].ToString()));
            return Results.Ok();
        }));
        Monitor = await ServiceProcess.StartAsync("SyntheticMonitor", new Dictionary<string, string>
        {
            ["ConnectionStrings__events"] = Stack.Core.EventLogConnectionString,
            ["ConnectionStrings__analytics"] = Stack.ClickHouse.ReadOnlyConnectionString,
            ["Tokage__Monitor__AdminToken"] = ControlPlaneStack.AdminToken,
            ["Tokage__Monitor__ControlPlane"] = Stack.Core.ControlPlane.HttpUri.ToString(),
            ["Tokage__Monitor__IngestionHttp"] = Stack.Ingestion.HttpUri.ToString(),
            ["Tokage__Monitor__IngestionGrpc"] = Stack.Ingestion.GrpcUri.ToString(),
            // The ingestion service serves OTLP on its own HTTP and gRPC endpoints too (the AppHost adds 4318 and 4317).
            ["Tokage__Monitor__OtlpHttp"] = Stack.Ingestion.HttpUri.ToString(),
            ["Tokage__Monitor__OtlpGrpc"] = Stack.Ingestion.GrpcUri.ToString(),
            ["Tokage__Monitor__QueryApi"] = Stack.QueryApi.HttpUri.ToString(),
            ["Tokage__Monitor__PriceRegistry"] = Stack.PriceRegistry.HttpUri.ToString(),
            ["Tokage__Monitor__Interval"] = "00:00:02",
            ["Tokage__Monitor__PollInterval"] = "00:00:00.100",
            ["Tokage__Monitor__LagInterval"] = "00:00:01",
            ["Tokage__Monitor__ConsistencyInterval"] = "00:00:02",
            ["Tokage__Monitor__ConsistencyRecheck"] = "00:00:01",
            ["Tokage__Monitor__Deadline"] = "00:00:30",
            ["Tokage__Monitor__Slo__Fast__LongWindow"] = "00:01:00",
            ["Tokage__Monitor__Slo__Fast__ShortWindow"] = "00:00:08",
            ["Tokage__Monitor__Channels__0__Kind"] = "webhook",
            ["Tokage__Monitor__Channels__0__Url"] = new Uri(receiver.Address, "/alerts").ToString(),
            ["Tokage__Monitor__Channels__0__Secret"] = AlertSecret,
            // The receiver is on this machine.
            ["Tokage__Webhooks__AllowPrivateNetworks"] = "true",
        });
    }

    /// <summary>The monitor's /metrics, parsed.</summary>
    public async Task<IReadOnlyList<PrometheusText.Sample>> MetricsAsync()
    {
        using var http = new HttpClient();
        return PrometheusText.Parse(await http.GetStringAsync(new Uri(Monitor.HttpUri, "/metrics")));
    }

    /// <summary>The sum of a series' samples whose labels include <paramref name="labels"/>.</summary>
    public async Task<double> ValueAsync(string name, params (string Label, string Value)[] labels) =>
        (await MetricsAsync()).Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value)).Sum(s => s.Value);

    public async Task DisposeAsync()
    {
        if (Monitor is not null)
        {
            await Monitor.DisposeAsync();
        }

        if (receiver is not null)
        {
            await receiver.DisposeAsync();
        }

        await Stack.DisposeAsync();
    }
}
