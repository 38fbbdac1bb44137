using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Tokage.SyntheticMonitor.Slo;

namespace Tokage.SyntheticMonitor.Probes;

/// <summary>What the monitor last saw on a path (served at <c>/v1/monitor/status</c>).</summary>
public sealed record PathStatus(string Path, DateTimeOffset? LastSentAt, string? LastOutcome, string? LastDetail, double? LastIngestSeconds,
    double? LastFreshnessSeconds, DateTimeOffset? LastQueryableAt, int Missing, long Lost, long PriceMismatches);

/// <summary>
/// Every <see cref="MonitorOptions.Interval"/>, one probe through each path; then, until each is priced and queryable in the
/// query API, looks it up every <see cref="MonitorOptions.PollInterval"/>. Records ingest time, freshness, loss and whether
/// the stored cost is the registry's price, and evaluates the freshness SLO's burn-rate alerts as outcomes arrive.
/// </summary>
public sealed class ProbeRunner(
    OperationsTenant tenant,
    ProbeSender sender,
    IHttpClientFactory clients,
    FreshnessSlo slo,
    AlertNotifier notifier,
    MonitorMetrics metrics,
    IOptions<MonitorOptions> options,
    TimeProvider time,
    ILogger<ProbeRunner> logger) : BackgroundService
{
    public const string QueryApiClient = "query-api";
    public const string PriceRegistryClient = "price-registry";

    private sealed class Pending(ProbeSend send)
    {
        public ProbeSend Send { get; } = send;

        public bool Lost { get; set; }
    }

    private readonly ConcurrentDictionary<string, Pending> pending = new();
    private readonly ConcurrentDictionary<ProbePath, PathStatus> status = new(
        Enum.GetValues<ProbePath>().ToDictionary(p => p, p => new PathStatus(p.Label(), null, null, null, null, null, null, 0, 0, 0)));

    public IReadOnlyList<PathStatus> Status =>
        [.. status.Values.Select(s => s with { Missing = pending.Values.Count(p => p.Lost && p.Send.Path.Label() == s.Path) }).OrderBy(s => s.Path, StringComparer.Ordinal)];

    public IReadOnlyList<BurnAlertState> Alerts { get; private set; } = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await tenant.EnsureAsync(stoppingToken);
        var (_, apiKey) = await tenant.ReadyAsync(stoppingToken);
        await Task.WhenAll(SendLoopAsync(apiKey, stoppingToken), PollLoopAsync(apiKey, stoppingToken));
    }

    private async Task SendLoopAsync(string apiKey, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Interval, time);
        do
        {
            await Task.WhenAll(Enum.GetValues<ProbePath>().Select(async path =>
            {
                var send = await sender.SendAsync(path, apiKey, stoppingToken);
                metrics.Sent(path, send.Outcome, send.Elapsed);
                status.AddOrUpdate(path, _ => throw new InvalidOperationException(), (_, s) => s with
                {
                    LastSentAt = send.SentAt, LastOutcome = send.Outcome, LastDetail = send.Detail,
                    LastIngestSeconds = send.Outcome == "accepted" ? send.Elapsed.TotalSeconds : s.LastIngestSeconds,
                });
                if (send.Outcome == "accepted")
                {
                    pending[send.EventId] = new Pending(send);
                }
                else
                {
                    // Not accepted is never queryable: a bad outcome for freshness too.
                    slo.Record(send.SentAt, good: false);
                    logger.LogWarning("Probe through {Path} was {Outcome}: {Detail}", path.Label(), send.Outcome, send.Detail);
                }
            }));
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task PollLoopAsync(string apiKey, CancellationToken stoppingToken)
    {
        using var query = clients.CreateClient(QueryApiClient);
        query.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var prices = clients.CreateClient(PriceRegistryClient);
        prices.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        var evaluation = EvaluateLoopAsync(stoppingToken);
        using var timer = new PeriodicTimer(options.Value.PollInterval, time);
        // A lookup that hangs (the query API waiting on a store that is down) must not hold up the others or the SLO:
        // they run side by side, each cut off after a few poll intervals; a cut-off probe just stays pending.
        var patience = TimeSpan.FromTicks(Math.Max(options.Value.PollInterval.Ticks * 8, TimeSpan.FromSeconds(2).Ticks));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await Parallel.ForEachAsync(pending.Values.OrderBy(p => p.Send.SentAt).ToList(), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stoppingToken },
                async (probe, ct) =>
                {
                    using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    limit.CancelAfter(patience);
                    try
                    {
                        await LookUpAsync(probe, query, prices, limit.Token, ct);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
                    {
                        logger.LogDebug("Looking up probe {EventId} failed: {Error}", probe.Send.EventId, ex.Message);
                    }
                });
        }

        await evaluation;
    }

    private async Task EvaluateLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PollInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            Evaluate(stoppingToken);
        }
    }

    /// <param name="cancellationToken">Cuts the lookup off (the probe stays pending).</param>
    /// <param name="stopping">The service's own: the price check of a probe found runs to its end.</param>
    private async Task LookUpAsync(Pending probe, HttpClient query, HttpClient prices, CancellationToken cancellationToken, CancellationToken stopping)
    {
        var send = probe.Send;
        var now = time.GetUtcNow();
        if (!probe.Lost && now - send.SentAt > options.Value.Deadline)
        {
            MarkLost(probe);
            logger.LogError("Probe {EventId} through {Path} is not queryable {Deadline} s after it was acknowledged: counted lost until it shows up.",
                send.EventId, send.Path.Label(), options.Value.Deadline.TotalSeconds);
        }

        using var response = await query.GetAsync($"/v1/events/{send.EventId}", cancellationToken);
        var found = response.StatusCode == HttpStatusCode.OK ? JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken)) : null;
        var state = (string?)found?["status"];
        if (state == "processed")
        {
            pending.TryRemove(send.EventId, out _);
            var freshness = now - send.SentAt;
            metrics.Queryable(send.Path, freshness, probe.Lost);
            if (!probe.Lost)
            {
                slo.Record(send.SentAt, good: freshness <= slo.Options.Threshold);
            }

            status.AddOrUpdate(send.Path, _ => throw new InvalidOperationException(), (_, s) => s with { LastFreshnessSeconds = freshness.TotalSeconds, LastQueryableAt = now });
            var mismatch = await PriceProblemAsync(found!["processed"]!, prices, stopping);
            if (mismatch is not null)
            {
                metrics.PriceMismatch(send.Path);
                status.AddOrUpdate(send.Path, _ => throw new InvalidOperationException(), (_, s) => s with { PriceMismatches = s.PriceMismatches + 1 });
                logger.LogError("Probe {EventId} through {Path}: {Problem}", send.EventId, send.Path.Label(), mismatch);
            }

            return;
        }

        if (state == "quarantined" && !probe.Lost)
        {
            // Quarantined is never priced: lost, with the processor's reason.
            MarkLost(probe);
            logger.LogError("Probe {EventId} through {Path} was quarantined: {Reason}", send.EventId, send.Path.Label(), found!["quarantined"]?.ToJsonString());
        }

        if (probe.Lost && now - send.SentAt > options.Value.ForgetLostAfter)
        {
            pending.TryRemove(send.EventId, out _);
        }
    }

    private void MarkLost(Pending probe)
    {
        probe.Lost = true;
        metrics.Lost(probe.Send.Path);
        slo.Record(probe.Send.SentAt, good: false);
        status.AddOrUpdate(probe.Send.Path, _ => throw new InvalidOperationException(), (_, s) => s with { Lost = s.Lost + 1 });
    }

    /// <summary>Why the stored probe is not what the registry says it costs (and OPS), or null when it is.</summary>
    private async Task<string?> PriceProblemAsync(JsonNode processed, HttpClient prices, CancellationToken cancellationToken)
    {
        if ((string?)processed["classification"] != "OPS")
        {
            return $"classified {(string?)processed["classification"]}, not OPS: probe usage would count as a tenant's.";
        }

        if (!(bool)processed["priced"]!)
        {
            return $"stored unpriced ({(string?)processed["unpriced_reason"]}).";
        }

        var settings = options.Value;
        var at = (string)processed["event_time"]!;
        using var response = await prices.GetAsync(
            $"/v1/prices?provider={Uri.EscapeDataString(settings.Provider)}&model={Uri.EscapeDataString(settings.Model)}&at={Uri.EscapeDataString(at)}", cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return $"the registry has no price for it ({(int)response.StatusCode}).";
        }

        var price = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!;
        var expected = settings.InputTokens * Rate(price["prices"]!["input_cost_per_token"]) + settings.OutputTokens * Rate(price["prices"]!["output_cost_per_token"]);
        var stored = decimal.Parse((string)processed["cost_usd"]!, NumberStyles.Number, CultureInfo.InvariantCulture);
        var (version, registryVersion) = (processed["price_version_id"]?.ToString(), price["version_id"]?.ToString());
        return stored != expected ? $"stored cost {stored} USD, the registry's price gives {expected} USD."
            : version != registryVersion ? $"priced with version {version}, the registry's is {registryVersion}."
            : null;
    }

    // Rates are exact decimal strings in the registry's answer; never read through a float.
    private static decimal Rate(JsonNode? node) => node is null ? 0m : decimal.Parse(node.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture);

    private void Evaluate(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var missing = pending.Values.Where(p => !p.Lost).Select(p => p.Send.SentAt).ToList();
        var (burns, alerts) = slo.Evaluate(now, missing);
        metrics.BurnRates = burns;
        metrics.Firing = alerts.ToDictionary(a => a.Name, a => a.Firing);
        metrics.Missing = Enum.GetValues<ProbePath>().ToDictionary(p => p.Label(), p => (long)pending.Values.Count(q => q.Lost && q.Send.Path == p));
        Alerts = alerts;
        foreach (var alert in alerts.Where(a => a.Changed))
        {
            // Delivery retries run beside the probes; a slow channel never holds them up.
            _ = notifier.NotifyAsync(alert, now, cancellationToken);
        }
    }
}
