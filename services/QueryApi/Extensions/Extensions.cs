using Tokage.EventLog;

namespace Tokage.QueryApi.Extensions;

internal static class Extensions
{
    /// <summary>The engines this service talks to (each with its health check, so /health means ready), and key resolution.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient("redis");
        // Budgets for the entitlement check, as the application role: RLS binds the reads to the caller's tenant.
        builder.AddNpgsqlDataSource("tokage");
        builder.Services.AddHealthChecks().AddDatabaseSchemaCheck();
        // As the store's read-only user where the deployment has one; the reader's limits travel with every query.
        var limits = builder.Configuration.GetSection(QueryApiOptions.SectionName).Get<QueryApiOptions>() ?? new QueryApiOptions();
        builder.AddUsageStore("analytics", ownsSchema: false, clickHouse =>
        {
            clickHouse.QuerySettings["max_execution_time"] = limits.MaxExecutionTime.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            clickHouse.QuerySettings["max_memory_usage"] = limits.MaxMemoryUsage.ToString(System.Globalization.CultureInfo.InvariantCulture);
        });
        builder.AddApiKeyResolver();

        // The processor's dedupe claims: an id claimed but not yet stored is "accepted".
        builder.Services.AddSingleton(sp => new DedupeClaims(sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>()));
        builder.Services.AddOptions<QueryApiOptions>().BindConfiguration(QueryApiOptions.SectionName)
            .Validate(o => o.AdminToken.Length is 0 or >= Tokage.Integrations.AdminToken.MinimumLength,
                $"{QueryApiOptions.SectionName}:AdminToken must be {Tokage.Integrations.AdminToken.MinimumLength} characters or more (or unset).")
            .Validate(o => o.MaxExecutionTime > TimeSpan.Zero && o.MaxMemoryUsage > 0 && o.MaxConcurrentQueriesPerTenant > 0,
                $"{QueryApiOptions.SectionName}: MaxExecutionTime, MaxMemoryUsage and MaxConcurrentQueriesPerTenant must be positive.")
            .ValidateOnStart();
        builder.Services.AddSingleton<Tokage.QueryApi.Apis.TenantQueryLimits>();
        builder.Services.AddExceptionHandler<Tokage.QueryApi.Apis.StoppedQueryHandler>();
        builder.Services.AddSingleton(sp => new ReservationSettlements(sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>()));
        builder.Services.AddSingleton<Tokage.QueryApi.Entitlements.BudgetSpendCache>();
        builder.Services.AddSingleton<Tokage.QueryApi.Entitlements.BudgetReservations>();
        builder.Services.AddSingleton(sp => new Tokage.Integrations.AdminToken(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<QueryApiOptions>>().Value.AdminToken, "The query API's operator access"));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddProblemDetails();
    }
}
