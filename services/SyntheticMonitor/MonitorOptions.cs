namespace Tokage.SyntheticMonitor;

/// <summary>Bound from <c>Tokage:Monitor</c>.</summary>
public sealed class MonitorOptions
{
    public const string SectionName = "Tokage:Monitor";

    /// <summary>The operations tenant the probes belong to (created on first start; its events are classified OPS).</summary>
    public string TenantName { get; set; } = "tokage-operations";

    /// <summary>The control plane's admin token: the monitor creates its tenant and a key with it.</summary>
    public string AdminToken { get; set; } = "";

    /// <summary>How often a probe goes through each of the four paths.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often pending probes are looked up in the query API.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>A probe not queryable after this long counts as lost (until it shows up).</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a lost probe is still looked for before the monitor forgets it.</summary>
    public TimeSpan ForgetLostAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often the processor's lag and the dead-letter log are read.</summary>
    public TimeSpan LagInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often the raw rows and every rollup are compared for the operations tenant.</summary>
    public TimeSpan ConsistencyInterval { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>A disagreement is counted only if it is still there this much later (an insert's views may be mid-write).</summary>
    public TimeSpan ConsistencyRecheck { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The processor's consumer group, whose lag is measured.</summary>
    public string ProcessorGroup { get; set; } = "event-processor";

    /// <summary>What each probe reports: a priced model and known token counts.</summary>
    public string Provider { get; set; } = "openai";

    public string Model { get; set; } = "gpt-4o-mini";

    public long InputTokens { get; set; } = 1000;

    public long OutputTokens { get; set; } = 100;

    /// <summary>Where the probes go and are read back (service discovery names by default).</summary>
    public string IngestionHttp { get; set; } = "http://ingestion";

    public string IngestionGrpc { get; set; } = "http://_grpc.ingestion";

    public string OtlpHttp { get; set; } = "http://_otlp-http.ingestion";

    public string OtlpGrpc { get; set; } = "http://_otlp-grpc.ingestion";

    public string QueryApi { get; set; } = "http://query-api";

    public string PriceRegistry { get; set; } = "http://price-registry";

    public string ControlPlane { get; set; } = "http://control-plane";

    public FreshnessSloOptions Slo { get; set; } = new();

    /// <summary>Where SLO alerts go: webhooks (signed like budget alerts) and Slack incoming webhooks.</summary>
    public List<AlertChannelOptions> Channels { get; set; } = [];
}

/// <summary>
/// The freshness objective (99 % of probes queryable within 5 s over 30 days) and its multi-window burn-rate alerts:
/// fast when 1 h and 5 min both burn at 14.4× or more, slow when 6 h and 30 min both burn at 6× or more.
/// </summary>
public sealed class FreshnessSloOptions
{
    public TimeSpan Threshold { get; set; } = TimeSpan.FromSeconds(5);

    public decimal Objective { get; set; } = 0.99m;

    public BurnAlertOptions Fast { get; set; } = new() { LongWindow = TimeSpan.FromHours(1), ShortWindow = TimeSpan.FromMinutes(5), BurnRate = 14.4m };

    public BurnAlertOptions Slow { get; set; } = new() { LongWindow = TimeSpan.FromHours(6), ShortWindow = TimeSpan.FromMinutes(30), BurnRate = 6m };
}

public sealed class BurnAlertOptions
{
    public TimeSpan LongWindow { get; set; }

    public TimeSpan ShortWindow { get; set; }

    public decimal BurnRate { get; set; }
}

public sealed class AlertChannelOptions
{
    /// <summary><c>webhook</c> (JSON, signed with <see cref="Secret"/>) or <c>slack</c> (an incoming-webhook text).</summary>
    public string Kind { get; set; } = "webhook";

    public string Url { get; set; } = "";

    /// <summary>The key of the <c>Tokage-Signature</c> header (webhooks; empty: unsigned).</summary>
    public string Secret { get; set; } = "";
}
