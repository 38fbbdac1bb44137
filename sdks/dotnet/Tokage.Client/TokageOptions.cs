namespace Tokage.Client;

/// <summary>What happens to a call's event when the in-memory queue is full (the app's call never waits either way).</summary>
public enum QueueFullPolicy
{
    /// <summary>The oldest queued event is dropped and counted (<see cref="TokageStatistics.DroppedOldest"/>).</summary>
    DropOldest,

    /// <summary>The event is written to <see cref="TokageOptions.SpoolDirectory"/> and sent once the queue has room (survives a restart).</summary>
    Spool,
}

/// <summary>How the app reaches Tokage and how the client queues and sends.</summary>
public sealed class TokageOptions
{
    /// <summary>The tenant's API key with the <c>ingest</c> scope (<c>tok_live_…</c>).</summary>
    public string ApiKey { get; set; } = "";

    /// <summary>Tokage's gRPC ingest endpoint (the ingestion service's <c>grpc</c> endpoint, e.g. http://localhost:8081).</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>The query API's HTTP address (e.g. http://localhost:8090), for <see cref="TokageReservations"/>; not needed to meter.</summary>
    public Uri? QueryEndpoint { get; set; }

    /// <summary>Stamped on every event that names none (the app's name in breakdowns).</summary>
    public string? Application { get; set; }

    /// <summary>Stamped on every event that names none (production, staging, …).</summary>
    public string? Environment { get; set; }

    /// <summary>Events the memory holds before <see cref="WhenFull"/> applies.</summary>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>Events per call to Tokage (at most 1,000).</summary>
    public int BatchSize { get; set; } = 200;

    /// <summary>How long an event waits for its batch to fill before the batch is sent anyway.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Each call's deadline.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest wait between retries of a batch Tokage could not take.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>What to do with an event when the queue is full.</summary>
    public QueueFullPolicy WhenFull { get; set; } = QueueFullPolicy.DropOldest;

    /// <summary>
    /// Where events wait on disk: when the queue is full (<see cref="QueueFullPolicy.Spool"/>) and, in any policy, what
    /// is still unsent when the app stops. Sent on the next start. Null: no spool (unsent events at stop are counted as dropped).
    /// </summary>
    public string? SpoolDirectory { get; set; }

    /// <summary>How long stopping the app may wait for queued events to be sent before they go to the spool.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
