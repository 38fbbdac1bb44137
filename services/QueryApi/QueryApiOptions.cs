namespace Tokage.QueryApi;

/// <summary>Bound from <c>Tokage:QueryApi</c>.</summary>
public sealed class QueryApiOptions
{
    public const string SectionName = "Tokage:QueryApi";

    /// <summary>Lets an operator read any tenant's usage (naming it with <c>?tenant=</c>); unset, only tenant keys are accepted.</summary>
    public string AdminToken { get; set; } = "";

    /// <summary>ClickHouse stops a usage query after this long (<c>max_execution_time</c>, sent with every query).</summary>
    public TimeSpan MaxExecutionTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>ClickHouse stops a usage query that needs more memory than this, in bytes (<c>max_memory_usage</c>).</summary>
    public long MaxMemoryUsage { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>A tenant's usage queries running at once on one instance; more are refused with 429.</summary>
    public int MaxConcurrentQueriesPerTenant { get; set; } = 4;
}
