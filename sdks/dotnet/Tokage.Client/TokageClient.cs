using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tokage.Contracts.V1;

namespace Tokage.Client;

/// <summary>What the client has done since it started.</summary>
public sealed record TokageStatistics(long Tracked, long Sent, long Rejected, long DroppedOldest, long Dropped, long Spooled, long UsageMissing, long Retries);

/// <summary>Where a metered call's usage goes: <see cref="Track"/> returns at once and never throws.</summary>
public interface ITokage
{
    /// <summary>Queues one call's usage for sending (an id and a time are given where it has none).</summary>
    void Track(TokenUsageEvent usage);

    /// <summary>Counts since the client started.</summary>
    TokageStatistics Statistics { get; }

    /// <summary>Waits until every event tracked so far is sent, rejected, dropped or spooled (tests, short-lived tools).</summary>
    Task FlushAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// Sends tracked events to Tokage's gRPC <c>IngestBatch</c> in the background: a bounded queue the app's calls write to
/// without waiting, batches by size and time, and retries of a batch with the same event ids (so Tokage stores each
/// once) while Tokage is unavailable or rate-limits (its <c>retry-after</c> honoured), backing off to
/// <see cref="TokageOptions.MaxRetryDelay"/>. A full queue drops its oldest event or spools to disk
/// (<see cref="TokageOptions.WhenFull"/>); what is unsent when the app stops goes to the spool and is sent on the next start.
/// </summary>
public sealed class TokageClient : ITokage, IHostedService, IAsyncDisposable
{
    private static readonly Meter Meter = new("Tokage.Client");
    private static readonly Counter<long> SentCounter = Meter.CreateCounter<long>("tokage.client.events.sent", description: "Events Tokage accepted.");
    private static readonly Counter<long> LostCounter = Meter.CreateCounter<long>("tokage.client.events.dropped", description: "Events dropped: the queue was full (drop-oldest) or the app stopped with no spool.");
    private static readonly Counter<long> RejectedCounter = Meter.CreateCounter<long>("tokage.client.events.rejected", description: "Events Tokage refused as invalid.");

    private readonly TokageOptions options;
    private readonly ILogger logger;
    private readonly Channel<TokenUsageEvent> queue;
    private readonly EventSpool? spool;
    private readonly GrpcChannel channel;
    private readonly IngestService.IngestServiceClient ingest;
    private readonly CancellationTokenSource stopping = new();
    private Task? loop;
    private long tracked, sent, rejected, droppedOldest, dropped, spooled, usageMissing, retries, pending;

    /// <summary>A client for <paramref name="options"/>; it sends once started (<see cref="StartAsync"/>).</summary>
    public TokageClient(IOptions<TokageOptions> options, ILogger<TokageClient>? logger = null)
    {
        this.options = options.Value;
        this.logger = (ILogger?)logger ?? NullLogger.Instance;
        if (this.options.Endpoint is null || string.IsNullOrWhiteSpace(this.options.ApiKey))
        {
            throw new ArgumentException("Tokage needs an Endpoint (the ingestion service's gRPC address) and an ApiKey with the 'ingest' scope.", nameof(options));
        }

        var bounded = new BoundedChannelOptions(Math.Max(1, this.options.QueueCapacity))
        {
            SingleReader = true,
            FullMode = this.options.WhenFull == QueueFullPolicy.DropOldest ? BoundedChannelFullMode.DropOldest : BoundedChannelFullMode.Wait,
        };
        queue = Channel.CreateBounded<TokenUsageEvent>(bounded, _ => Lost(ref droppedOldest, 1));
        spool = this.options.SpoolDirectory is { Length: > 0 } directory ? new EventSpool(directory) : null;
        channel = GrpcChannel.ForAddress(this.options.Endpoint);
        ingest = new IngestService.IngestServiceClient(channel);
    }

    /// <inheritdoc />
    public TokageStatistics Statistics => new(
        Interlocked.Read(ref tracked), Interlocked.Read(ref sent), Interlocked.Read(ref rejected), Interlocked.Read(ref droppedOldest),
        Interlocked.Read(ref dropped), Interlocked.Read(ref spooled), Interlocked.Read(ref usageMissing), Interlocked.Read(ref retries));

    /// <inheritdoc />
    public void Track(TokenUsageEvent usage)
    {
        try
        {
            Complete(usage);
            Interlocked.Increment(ref tracked);
            Interlocked.Increment(ref pending);
            if (usage.Metadata.TryGetValue(UsageEvents.UnpricedReasonKey, out var reason) && reason == UsageEvents.UsageMissing)
            {
                Interlocked.Increment(ref usageMissing);
            }

            if (!queue.Writer.TryWrite(usage))
            {
                // Full (spool policy) or stopped: to disk if there is one, else counted.
                SpoolOrDrop([usage]);
            }
        }
        catch (Exception ex)
        {
            // Never in the app's path: metering is lost for this call, and said so.
            logger.LogWarning(ex, "A call's usage could not be queued for Tokage.");
        }
    }

    /// <inheritdoc />
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        while (Interlocked.Read(ref pending) > 0)
        {
            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>Starts the background sender (the host calls it; outside a host, call it once).</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        loop ??= Task.Run(() => RunAsync(stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Sends what is queued for up to <see cref="TokageOptions.ShutdownTimeout"/>; the rest goes to the spool (or is counted as dropped).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        queue.Writer.TryComplete();
        if (loop is not null)
        {
            var drained = await Task.WhenAny(loop, Task.Delay(options.ShutdownTimeout, cancellationToken)) == loop;
            if (!drained)
            {
                await stopping.CancelAsync();
                await loop;
            }
        }

        var left = new List<TokenUsageEvent>();
        while (queue.Reader.TryRead(out var usage))
        {
            left.Add(usage);
        }

        SpoolOrDrop(left);
    }

    /// <summary>Stops as <see cref="StopAsync"/> does and lets the connection go.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        stopping.Dispose();
        channel.Dispose();
    }

    private void Complete(TokenUsageEvent usage)
    {
        if (usage.EventId.Length == 0)
        {
            usage.EventId = Guid.CreateVersion7().ToString();
        }

        usage.Timestamp ??= Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        if (usage.Application.Length == 0 && options.Application is { } application)
        {
            usage.Application = application;
        }

        if (usage.Environment.Length == 0 && options.Environment is { } environment)
        {
            usage.Environment = environment;
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var batch = new List<TokenUsageEvent>(options.BatchSize);
        try
        {
            // What an earlier run left on disk goes first; after that, whenever the queue has caught up.
            while (await SpoolThenWaitAsync(cancellationToken))
            {
                // A batch fills for at most FlushInterval after its first event.
                using var window = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                window.CancelAfter(options.FlushInterval);
                try
                {
                    while (batch.Count < options.BatchSize && await queue.Reader.WaitToReadAsync(window.Token))
                    {
                        while (batch.Count < options.BatchSize && queue.Reader.TryRead(out var usage))
                        {
                            batch.Add(usage);
                        }
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // The window closed: send what there is.
                }

                await SendAsync(batch, cancellationToken);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            SpoolOrDrop(batch);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Tokage's sender stopped; queued usage goes to the spool.");
            SpoolOrDrop(batch);
        }
    }

    /// <summary>Sends a batch until Tokage takes it (or refuses it as invalid); stopping first throws, and the caller spools the batch.</summary>
    private async Task SendAsync(List<TokenUsageEvent> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var request = new IngestBatchRequest();
        request.Events.AddRange(batch);
        var headers = new Metadata { { "authorization", "Bearer " + options.ApiKey } };
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                var response = await ingest.IngestBatchAsync(request, headers, DateTime.UtcNow + options.CallTimeout, cancellationToken);
                Count(ref sent, response.Accepted, SentCounter);
                foreach (var refused in response.Rejected)
                {
                    logger.LogWarning("Tokage refused event {EventId}: {Errors}", refused.EventId, string.Join("; ", refused.Errors.Select(e => $"{e.Field} {e.Code}: {e.Message}")));
                }

                Count(ref rejected, response.Rejected.Count, RejectedCounter);
                Interlocked.Add(ref pending, -batch.Count);
                return;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.InvalidArgument)
            {
                logger.LogWarning("Tokage refused a whole batch of {Count} events: {Detail}", batch.Count, ex.Status.Detail);
                Count(ref rejected, batch.Count, RejectedCounter);
                Interlocked.Add(ref pending, -batch.Count);
                return;
            }
            catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Unavailable, rate-limited, a deadline, a key problem: the same events again later, same ids.
                Interlocked.Increment(ref retries);
                var wait = RetryAfter(ex) ?? delay + TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)(delay.TotalMilliseconds / 2) + 1));
                logger.Log(ex.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied ? LogLevel.Error : LogLevel.Warning,
                    "Tokage did not take {Count} events ({Status}: {Detail}); retrying in {Wait}.", batch.Count, ex.StatusCode, ex.Status.Detail, wait);
                await Task.Delay(wait, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.MaxRetryDelay.Ticks));
            }
        }
    }

    private async Task<bool> SpoolThenWaitAsync(CancellationToken cancellationToken)
    {
        if (spool is not null && queue.Reader.Count == 0)
        {
            await SendSpooledAsync(cancellationToken);
        }

        return await queue.Reader.WaitToReadAsync(cancellationToken);
    }

    private async Task SendSpooledAsync(CancellationToken cancellationToken)
    {
        while (queue.Reader.Count == 0 && spool!.TakeOldest() is { } file)
        {
            var events = file.Read();
            Interlocked.Add(ref pending, events.Count);
            foreach (var chunk in events.Chunk(options.BatchSize))
            {
                await SendAsync([.. chunk], cancellationToken);
            }

            // Only once all of it is in: a crash before re-sends the file, and Tokage stores each id once.
            file.Delete();
        }
    }

    private void SpoolOrDrop(IReadOnlyCollection<TokenUsageEvent> events)
    {
        if (events.Count == 0)
        {
            return;
        }

        if (spool is not null)
        {
            try
            {
                spool.Append(events);
                Interlocked.Add(ref spooled, events.Count);
                Interlocked.Add(ref pending, -events.Count);
                return;
            }
            catch (IOException ex)
            {
                logger.LogError(ex, "Tokage's spool at {Directory} could not be written.", options.SpoolDirectory);
            }
        }

        logger.LogWarning("{Count} events of usage were not sent to Tokage and are dropped (no spool).", events.Count);
        Lost(ref dropped, events.Count);
    }

    private void Lost(ref long counter, int count)
    {
        Interlocked.Add(ref counter, count);
        Interlocked.Add(ref pending, -count);
        LostCounter.Add(count);
    }

    private static void Count(ref long counter, int count, Counter<long> metric)
    {
        Interlocked.Add(ref counter, count);
        metric.Add(count);
    }

    private static TimeSpan? RetryAfter(RpcException ex) =>
        ex.Trailers.GetValue("retry-after") is { } seconds && double.TryParse(seconds, System.Globalization.CultureInfo.InvariantCulture, out var value) && value >= 0
            ? TimeSpan.FromSeconds(Math.Min(value, 300))
            : null;
}
