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

    /// <summary>
    /// How old a budget's spend may be when a check or a reservation uses it: ClickHouse is asked at most once per budget
    /// and period in this time. A reservation settled since the reading is still counted as held, so this bounds
    /// freshness, never the limit.
    /// </summary>
    public TimeSpan BudgetSpendMaxAge { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How far the processor's clock (which stamps settlements) may run ahead of this service's.</summary>
    public TimeSpan SettlementClockSkew { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a reservation may wait behind the tenant's others on this replica before it is refused (503, nothing reserved).</summary>
    public TimeSpan ReservationQueueTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
