namespace Tokage.AuditLog.Audit;

public sealed class AuditOptions
{
    public const string SectionName = "Tokage:Audit";

    /// <summary>Lets the operator read and verify every tenant's records (<c>?tenant=</c>); the shared admin token in the AppHost.</summary>
    public string AdminToken { get; set; } = "";

    /// <summary>How often the outbox is drained when it was empty (a full batch is followed at once by the next).</summary>
    public TimeSpan DrainInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Outbox rows chained in one transaction.</summary>
    public int DrainBatchSize { get; set; } = 500;

    /// <summary>The time one sealed object covers: an hour; shorter (it must divide an hour) where a test cannot wait one.</summary>
    public TimeSpan SegmentLength { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often sealing looks for ended segments.</summary>
    public TimeSpan SealInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long after a segment ends it is sealed.</summary>
    public TimeSpan SealDelay { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a sealed segment is retained under S3 Object Lock (COMPLIANCE), in years.</summary>
    public int RetentionYears { get; set; } = 7;
}
