using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Tokage.SyntheticMonitor.Probes;
using Tokage.Webhooks;

namespace Tokage.SyntheticMonitor.Slo;

/// <summary>
/// Sends an SLO alert's firing and resolution to every configured channel, as budget alerts are sent: webhooks signed
/// with <c>Tokage-Signature</c>, Slack as text; each call retried with backoff (1 s, 2 s, 4 s, …) up to
/// <see cref="MaxAttempts"/> times, and every attempt counted. The monitor never waits on a channel.
/// </summary>
public sealed class AlertNotifier(IHttpClientFactory clients, IOptions<MonitorOptions> options, MonitorMetrics metrics, TimeProvider time, ILogger<AlertNotifier> logger)
{
    public const string HttpClientName = "alerts";
    public const int MaxAttempts = 6;

    public Task NotifyAsync(BurnAlertState alert, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var state = alert.Firing ? "firing" : "resolved";
        metrics.Alert(alert.Name, state);
        logger.Log(alert.Firing ? LogLevel.Error : LogLevel.Information,
            "SLO alert {Alert} {State}: freshness burn {Long}× over {LongWindow}, {Short}× over {ShortWindow} (alerting at {Rate}×).",
            alert.Name, state, alert.LongBurn, FreshnessSlo.Label(alert.Rule.LongWindow), alert.ShortBurn, FreshnessSlo.Label(alert.Rule.ShortWindow), alert.Rule.BurnRate);
        return Task.WhenAll(options.Value.Channels.Select(channel => DeliverAsync(channel, Body(channel.Kind, alert, state, at), cancellationToken)));
    }

    private async Task DeliverAsync(AlertChannelOptions channel, string body, CancellationToken cancellationToken)
    {
        using var http = clients.CreateClient(HttpClientName);
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var call = await SignedWebhook.PostAsync(http, channel.Url, body, channel.Secret, time.GetUtcNow(), cancellationToken);
            var error = call.Delivered ? null : call.StatusCode is { } code ? $"{code} {call.Error}" : call.Error;

            metrics.WebhookAttempt(error is null ? "delivered" : "failed");
            if (error is null)
            {
                return;
            }

            logger.LogWarning("SLO alert to {Kind} channel {Host}, attempt {Attempt} of {Max}, failed: {Error}.", channel.Kind, new Uri(channel.Url).Host, attempt, MaxAttempts, error);
            if (attempt < MaxAttempts)
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Pow(2, attempt - 1)), time, cancellationToken);
            }
        }
    }

    internal static string Body(string kind, BurnAlertState alert, string state, DateTimeOffset at)
    {
        var (longWindow, shortWindow) = (FreshnessSlo.Label(alert.Rule.LongWindow), FreshnessSlo.Label(alert.Rule.ShortWindow));
        if (kind == "slack")
        {
            return new JsonObject
            {
                ["text"] = alert.Firing
                    ? $":rotating_light: Tokage metering is late: probes are not queryable in time (freshness burn {alert.LongBurn}× over {longWindow}, {alert.ShortBurn}× over {shortWindow}; alerting at {alert.Rule.BurnRate}×)."
                    : $":white_check_mark: Tokage metering is fresh again ({alert.Name} resolved; burn {alert.ShortBurn}× over {shortWindow}).",
            }.ToJsonString();
        }

        return new JsonObject
        {
            ["type"] = "monitor.slo_alert",
            ["alert"] = alert.Name,
            ["status"] = state,
            ["slo"] = "freshness",
            ["long_window"] = longWindow,
            ["short_window"] = shortWindow,
            ["long_window_burn_rate"] = alert.LongBurn.ToString(CultureInfo.InvariantCulture),
            ["short_window_burn_rate"] = alert.ShortBurn.ToString(CultureInfo.InvariantCulture),
            ["burn_rate_threshold"] = alert.Rule.BurnRate.ToString(CultureInfo.InvariantCulture),
            ["at"] = at.ToString("O", CultureInfo.InvariantCulture),
        }.ToJsonString();
    }
}
