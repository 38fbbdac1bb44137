using System.Globalization;
using System.Threading.RateLimiting;
using ClickHouse.Driver;
using Microsoft.Extensions.Options;

namespace Tokage.QueryApi.Apis;

/// <summary>A usage query refused before it ran (the tenant's queries at once) or stopped by a ClickHouse limit while it ran.</summary>
internal sealed class QueryRefusedException(int status, string title, string detail, TimeSpan? retryAfter = null) : Exception(detail)
{
    public int Status { get; } = status;

    public string Title { get; } = title;

    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>The refusal as the REST API answers it: a problem with its status, and Retry-After where waiting helps.</summary>
    public IResult ToProblem(HttpContext context)
    {
        if (RetryAfter is { } wait)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        return Results.Problem(statusCode: Status, title: Title, detail: Message);
    }
}

/// <summary>
/// Keeps one tenant's expensive reads from starving the others: at most
/// <see cref="QueryApiOptions.MaxConcurrentQueriesPerTenant"/> usage queries of a tenant run at once on this instance
/// (more are refused with 429 at once, not queued), and a query ClickHouse stops at the reader's time or memory limit
/// (sent with every query, see <see cref="QueryApiOptions.MaxExecutionTime"/>) is answered 422 naming the limit.
/// </summary>
internal sealed class TenantQueryLimits : IDisposable
{
    // ClickHouse's codes for a query stopped at a limit.
    private const int TimeoutExceeded = 159;
    private const int TooSlow = 160;
    private const int MemoryLimitExceeded = 241;

    private readonly QueryApiOptions options;
    private readonly PartitionedRateLimiter<string> running;

    public TenantQueryLimits(IOptions<QueryApiOptions> options)
    {
        this.options = options.Value;
        var permits = this.options.MaxConcurrentQueriesPerTenant;
        running = PartitionedRateLimiter.Create<string, string>(tenant => RateLimitPartition.GetConcurrencyLimiter(
            tenant, _ => new ConcurrencyLimiterOptions { PermitLimit = permits, QueueLimit = 0 }));
    }

    public async Task<T> RunAsync<T>(string tenant, Func<Task<T>> query)
    {
        using var slot = running.AttemptAcquire(tenant);
        if (!slot.IsAcquired)
        {
            throw new QueryRefusedException(StatusCodes.Status429TooManyRequests, "Too many queries at once",
                $"This tenant already has {options.MaxConcurrentQueriesPerTenant} usage queries running " +
                $"({QueryApiOptions.SectionName}:{nameof(QueryApiOptions.MaxConcurrentQueriesPerTenant)}); retry once one has answered.",
                TimeSpan.FromSeconds(1));
        }

        try
        {
            return await query();
        }
        catch (ClickHouseServerException ex) when (Stopped(ex) is { } refusal)
        {
            throw refusal;
        }
    }

    /// <summary>The refusal for a query ClickHouse stopped at the reader's time or memory limit; null for any other error.</summary>
    public QueryRefusedException? Stopped(Exception exception) => exception switch
    {
        ClickHouseServerException { ErrorCode: TimeoutExceeded or TooSlow } => new QueryRefusedException(StatusCodes.Status422UnprocessableEntity, "Query too expensive",
            $"The query ran longer than {options.MaxExecutionTime.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s " +
            $"({QueryApiOptions.SectionName}:{nameof(QueryApiOptions.MaxExecutionTime)}) and was stopped: ask for a shorter range, " +
            "whole hours or days (answered from rollups), or fewer dimensions."),
        ClickHouseServerException { ErrorCode: MemoryLimitExceeded } => new QueryRefusedException(StatusCodes.Status422UnprocessableEntity, "Query too expensive",
            $"The query needed more than {options.MaxMemoryUsage.ToString(CultureInfo.InvariantCulture)} bytes " +
            $"({QueryApiOptions.SectionName}:{nameof(QueryApiOptions.MaxMemoryUsage)}) and was stopped: ask for a shorter range or fewer dimensions."),
        _ => null,
    };

    public void Dispose() => running.Dispose();
}

/// <summary>
/// For the queries that do not go through <see cref="TenantQueryLimits.RunAsync"/> (event status, recent events, the OTLP
/// report): a query ClickHouse stopped at a limit is the same 422 naming the setting, never a 500.
/// </summary>
internal sealed class StoppedQueryHandler(TenantQueryLimits limits, IProblemDetailsService problems) : Microsoft.AspNetCore.Diagnostics.IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (limits.Stopped(exception) is not { } refusal)
        {
            return false;
        }

        context.Response.StatusCode = refusal.Status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = refusal.Status, Title = refusal.Title, Detail = refusal.Message },
        });
    }
}
