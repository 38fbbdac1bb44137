using System.Globalization;

namespace Tokage.Otlp;

/// <summary>
/// The OTLP report's counters as the ingestion keeps them: per tenant and UTC day a Redis hash, one field per
/// (instrumentation scope name, version, counter), counting spans as they arrive. The ingestion writes them, the
/// query API reads them; this is the one place their layout is written down.
/// </summary>
public static class OtlpReportCounters
{
    /// <summary>How long a day's counters are kept.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(90);

    public const string Received = "received";
    public const string WithoutUsage = "skipped_without_usage";
    public const string Wrapper = "skipped_wrapper";
    public const string Accepted = "accepted";

    /// <summary>Prefix of the counters of spans refused, by reason code (<c>rejected:negative_count</c>, <c>rejected:timestamp.too_old</c>, …).</summary>
    public const string RejectedPrefix = "rejected:";

    /// <summary>Prefix of the counters of notes (<c>note:reported_cost_ignored</c>, <c>note:reasoning_from_total</c>).</summary>
    public const string NotePrefix = "note:";

    public static string Key(string tenantId, DateOnly day) =>
        $"tokage:otlp:report:{tenantId}:{day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}";

    public static string Field(ScopeName scope, string counter) => $"{Clean(scope.Name)}\t{Clean(scope.Version)}\t{counter}";

    /// <summary>A field back into its scope and counter; null for a field of another layout.</summary>
    public static (ScopeName Scope, string Counter)? Parse(string field) =>
        field.Split('\t') is [var name, var version, var counter] ? (new ScopeName(name, version), counter) : null;

    private static string Clean(string text) => text.Replace('\t', ' ');
}
