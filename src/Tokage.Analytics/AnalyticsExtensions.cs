using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tokage.Analytics;
using Tokage.Analytics.Privacy;
using Tokage.Analytics.Queries;
using Tokage.Analytics.Schema;

namespace Microsoft.Extensions.Hosting;

public static class AnalyticsExtensions
{
    /// <summary>
    /// The usage store on the ClickHouse connection <paramref name="connectionName"/>: the client, the writer,
    /// the queries, and either the migrations at start-up (<paramref name="ownsSchema"/>: exactly one service,
    /// the event processor) or a readiness check that waits for them.
    /// </summary>
    /// <summary>
    /// What a repricing needs of the usage store on <paramref name="connectionName"/>: its reads and the writer of
    /// adjustments. No readiness check on the schema: the repricer waits for it (the event processor migrates it) by
    /// retrying, and its service stays ready meanwhile.
    /// </summary>
    public static void AddUsageRepricing(this IHostApplicationBuilder builder, string connectionName)
    {
        builder.AddClickHouseClient(connectionName);
        builder.Services.AddOptions<AnalyticsOptions>().BindConfiguration(AnalyticsOptions.SectionName);
        builder.Services.AddSingleton<UsageEventWriter>();
        builder.Services.AddSingleton<RepricingReads>();
    }

    public static void AddUsageStore(this IHostApplicationBuilder builder, string connectionName, bool ownsSchema, Action<ClickHouseSettings>? configure = null)
    {
        builder.AddClickHouseClient(connectionName, configure);
        builder.Services.AddOptions<AnalyticsOptions>()
            .BindConfiguration(AnalyticsOptions.SectionName)
            .Validate(o => o.RawRetentionDays >= 0 && o.QuarantineRetentionDays >= 0 && o.InsertChunkRows > 0,
                $"{AnalyticsOptions.SectionName}: retention days must be 0 or more and InsertChunkRows positive.")
            .ValidateOnStart();
        builder.Services.AddOptions<DataPolicyOptions>()
            .BindConfiguration(DataPolicyOptions.SectionName)
            .Validate(o => o.PiiHashKey.Length >= DataPolicyOptions.MinimumKeyLength,
                $"{DataPolicyOptions.SectionName}:PiiHashKey must be set ({DataPolicyOptions.MinimumKeyLength}+ characters): users are stored and looked up " +
                "by a keyed pseudonym (the AppHost generates one; deployments set Tokage__DataPolicy__PiiHashKey from a secret, the same for every service).")
            .ValidateOnStart();
        builder.Services.AddSingleton<PersonalValues>();
        builder.Services.AddSingleton<AnalyticsMigrator>();
        builder.Services.AddSingleton<UsageEventWriter>();
        builder.Services.AddSingleton<UsageQueries>();
        builder.Services.AddSingleton<BudgetSpend>();
        builder.Services.AddSingleton<EventLookups>();
        builder.Services.AddSingleton<CustomerUsageQueries>();

        var health = builder.Services.AddHealthChecks();
        if (ownsSchema)
        {
            builder.Services.AddSingleton<AnalyticsSchemaInitializer>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<AnalyticsSchemaInitializer>());
            health.Add(new HealthCheckRegistration("analytics-schema", sp => sp.GetRequiredService<AnalyticsSchemaInitializer>(), HealthStatus.Unhealthy, ["ready"]));
        }
        else
        {
            health.AddCheck<AnalyticsSchemaVersionCheck>("analytics-schema", tags: ["ready"]);
        }
    }
}
