namespace Tokage.Analytics;

/// <summary>The usage store's settings, bound from <c>Tokage:Analytics</c>.</summary>
public sealed class AnalyticsOptions
{
    public const string SectionName = "Tokage:Analytics";

    /// <summary>Days raw rows are kept after their event time (0 keeps them forever). Rollups are kept forever.</summary>
    public int RawRetentionDays { get; set; } = 400;

    /// <summary>Days quarantined and duplicate records are kept after they were received (0 keeps them forever).</summary>
    public int QuarantineRetentionDays { get; set; } = 90;

    /// <summary>Rows per INSERT statement of the bulk writer; a larger write is split into several.</summary>
    public int InsertChunkRows { get; set; } = 100_000;
}
