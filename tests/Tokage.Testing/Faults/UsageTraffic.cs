using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Tokage.Testing.Faults;

/// <summary>How the clients of a fault scenario behave.</summary>
public sealed record TrafficOptions
{
    public int Clients { get; init; } = 2;

    public int BatchSize { get; init; } = 50;

    /// <summary>
    /// A client gives up on an attempt after this long and sends the whole batch again (same event ids); each
    /// further attempt of the same batch waits twice as long (up to 32×), as SDKs back off.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Between one acknowledged batch and the next, and between attempts of a failed one.</summary>
    public TimeSpan Pause { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Every Nth acknowledged batch is sent once more, as a client that lost the response would (0: never).</summary>
    public int ResendEvery { get; init; }

    /// <summary>After the stop, how long a client keeps retrying the batch it holds before it gives up on it.</summary>
    public TimeSpan DrainFor { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>One generated event's usage; its cost is computed independently of the processor (<see cref="ListPrice"/>).</summary>
public readonly record struct SentUsage(long InputTokens, long OutputTokens)
{
    public decimal ExpectedCostUsd => ListPrice.Gpt4oCostUsd(InputTokens, OutputTokens);
}

/// <summary>The public list price the suite's events are priced at, written out here so the check does not share the processor's code.</summary>
public static class ListPrice
{
    public const string Provider = "openai";

    public const string Model = "gpt-4o";

    /// <summary>gpt-4o, standard tier, no cache: $2.50 per million input tokens, $10 per million output tokens.</summary>
    public static decimal Gpt4oCostUsd(long inputTokens, long outputTokens) => inputTokens * 0.0000025m + outputTokens * 0.00001m;
}

/// <summary>What the clients sent and what ingestion acknowledged with a 202.</summary>
public sealed record TrafficResult(
    IReadOnlyDictionary<string, SentUsage> Sent,
    IReadOnlySet<string> Acknowledged,
    int Attempts,
    int Resent,
    IReadOnlyDictionary<string, int> Failures);

/// <summary>
/// Clients posting batches of valid usage events to ingestion as an SDK does: a batch that fails (an error
/// status, a refused connection, a timeout) is sent again whole, with the same event ids, until it is
/// acknowledged. Records every event sent and every event acknowledged, for <see cref="Reconciliation"/>.
/// </summary>
public sealed class UsageTraffic : IAsyncDisposable
{
    private readonly Func<Uri> ingestion;
    private readonly string apiKey;
    private readonly TrafficOptions options;
    private readonly string runId = Guid.NewGuid().ToString("N")[..8];
    private readonly ConcurrentDictionary<string, SentUsage> sent = new();
    private readonly ConcurrentDictionary<string, byte> acknowledged = new();
    private readonly ConcurrentDictionary<string, int> failures = new();
    private readonly CancellationTokenSource stop = new();
    private readonly DateTimeOffset timestamp = DateTimeOffset.UtcNow.AddMinutes(-1);
    private readonly List<Task> clients = [];
    private int attempts;
    private int resent;

    private UsageTraffic(Func<Uri> ingestion, string apiKey, TrafficOptions options)
    {
        this.ingestion = ingestion;
        this.apiKey = apiKey;
        this.options = options;
    }

    /// <summary>Acknowledged events so far.</summary>
    public int AcknowledgedCount => acknowledged.Count;

    /// <param name="ingestion">Where ingestion answers now (it may be restarted on another port).</param>
    public static UsageTraffic Start(Func<Uri> ingestion, string apiKey, TrafficOptions options)
    {
        var traffic = new UsageTraffic(ingestion, apiKey, options);
        for (var client = 0; client < options.Clients; client++)
        {
            var id = client;
            traffic.clients.Add(Task.Run(() => traffic.RunClientAsync(id)));
        }

        return traffic;
    }

    /// <summary>Until at least <paramref name="count"/> events are acknowledged (or <paramref name="within"/> passes).</summary>
    public Task WaitForAcknowledgedAsync(int count, TimeSpan within) =>
        ControlPlaneStack.EventuallyAsync(() => Task.FromResult(acknowledged.Count >= count), within, $"{count} events acknowledged");

    /// <summary>Stops starting batches, lets each client finish the one it holds, and returns what happened.</summary>
    public async Task<TrafficResult> StopAsync()
    {
        await stop.CancelAsync();
        await Task.WhenAll(clients);
        return new TrafficResult(
            new Dictionary<string, SentUsage>(sent), acknowledged.Keys.ToHashSet(), attempts, resent,
            new SortedDictionary<string, int>(failures, StringComparer.Ordinal));
    }

    public async ValueTask DisposeAsync()
    {
        if (!stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        stop.Dispose();
    }

    private async Task RunClientAsync(int client)
    {
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        for (var batch = 0; !stop.IsCancellationRequested; batch++)
        {
            var body = Batch(client, batch);
            await SendUntilAcknowledgedAsync(http, body);
            if (options.ResendEvery > 0 && batch % options.ResendEvery == options.ResendEvery - 1)
            {
                Interlocked.Increment(ref resent);
                await SendUntilAcknowledgedAsync(http, body);
            }

            await Task.Delay(options.Pause);
        }
    }

    private async Task SendUntilAcknowledgedAsync(HttpClient http, (string Json, string[] Ids) batch)
    {
        DateTime? giveUpAt = null;
        for (var attempt = 0; ; attempt++)
        {
            if (stop.IsCancellationRequested)
            {
                giveUpAt ??= DateTime.UtcNow + options.DrainFor;
                if (DateTime.UtcNow > giveUpAt)
                {
                    failures.AddOrUpdate("given up after the stop", 1, (_, n) => n + 1);
                    return;
                }
            }

            Interlocked.Increment(ref attempts);
            var failure = await TrySendAsync(http, batch, options.RequestTimeout * (1 << Math.Min(attempt, 5)));
            if (failure is null)
            {
                return;
            }

            failures.AddOrUpdate(failure, 1, (_, n) => n + 1);
            await Task.Delay(options.Pause * 5);
        }
    }

    /// <returns>Null when the batch was acknowledged; otherwise what went wrong.</returns>
    private async Task<string?> TrySendAsync(HttpClient http, (string Json, string[] Ids) batch, TimeSpan timeout)
    {
        try
        {
            using var deadline = new CancellationTokenSource(timeout);
            using var content = new StringContent(batch.Json, Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(new Uri(ingestion(), "v1/events/batch"), content, deadline.Token);
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                return ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            }

            var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(deadline.Token))!;
            if ((int)answer["accepted"]! != batch.Ids.Length)
            {
                throw new InvalidOperationException($"Ingestion refused some of a batch of valid events: {answer.ToJsonString()}");
            }

            foreach (var id in batch.Ids)
            {
                acknowledged.TryAdd(id, 0);
            }

            return null;
        }
        catch (OperationCanceledException)
        {
            return "timeout";
        }
        catch (HttpRequestException e)
        {
            return e.HttpRequestError.ToString();
        }
    }

    private (string Json, string[] Ids) Batch(int client, int batch)
    {
        var json = new StringBuilder("{\"events\": [");
        var ids = new string[options.BatchSize];
        for (var i = 0; i < options.BatchSize; i++)
        {
            var n = (long)batch * options.BatchSize + i;
            var id = $"{runId}-{client}-{n}";
            // Token counts vary per event so a count right by luck and a cost wrong by luck are unlikely to cancel out.
            var usage = new SentUsage(100 + n * 7_919 % 20_000, 10 + (n + client) * 104_729 % 2_000);
            sent[id] = usage;
            ids[i] = id;
            json.Append(i == 0 ? "" : ",").Append(EventJson(id, timestamp, usage, $"t{client}"));
        }

        return (json.Append("]}").ToString(), ids);
    }

    /// <summary>One native event at the list-priced model, as the clients send it.</summary>
    public static string EventJson(string id, DateTimeOffset timestamp, SentUsage usage, string team) => string.Create(CultureInfo.InvariantCulture,
        $"{{\"event_id\":\"{id}\",\"timestamp\":\"{timestamp:O}\",\"provider\":\"{ListPrice.Provider}\",\"model\":\"{ListPrice.Model}\",\"usage\":{{\"input_tokens\":{usage.InputTokens},\"output_tokens\":{usage.OutputTokens}}},\"team\":\"{team}\"}}");
}
