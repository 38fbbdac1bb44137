using Microsoft.Extensions.Options;
using Tokage.ApiKeys;
using Tokage.AuditLog.Audit;
using Tokage.Integrations;

namespace Tokage.AuditLog.Extensions;

internal static class Extensions
{
    /// <summary>The engines this service talks to (each with its health check, so /health means ready), callers' keys, the drain and the sealer.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // As the audit role: SELECT on the outbox, INSERT and SELECT on the chains and segments, nothing else.
        builder.AddNpgsqlDataSource("tokage");
        builder.Services.AddHealthChecks().AddDatabaseSchemaCheck();
        builder.AddObjectStoreClient("archive");
        builder.AddRedisClient("redis");
        builder.AddApiKeyResolver();

        builder.Services.AddOptions<AuditOptions>()
            .BindConfiguration(AuditOptions.SectionName)
            .Validate(o => o.DrainInterval > TimeSpan.Zero && o.DrainBatchSize > 0 && o.SealInterval > TimeSpan.Zero && o.SealDelay >= TimeSpan.Zero && o.RetentionYears >= 1,
                $"{AuditOptions.SectionName}: DrainInterval, DrainBatchSize and SealInterval must be positive, SealDelay not negative, RetentionYears at least 1.")
            .Validate(o => o.SegmentLength >= TimeSpan.FromSeconds(1) && TimeSpan.TicksPerHour % o.SegmentLength.Ticks == 0,
                $"{AuditOptions.SectionName}:SegmentLength must divide an hour (an hour, 30 minutes, 1 minute, …).")
            .Validate(o => o.AdminToken.Length is 0 or >= AdminToken.MinimumLength,
                $"{AuditOptions.SectionName}:AdminToken must be {AdminToken.MinimumLength} characters or more (or unset).")
            .ValidateOnStart();
        builder.Services.AddSingleton(sp => new AdminToken(sp.GetRequiredService<IOptions<AuditOptions>>().Value.AdminToken, "The audit log's operator access"));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<AuditDrain>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditDrain>());
        builder.Services.AddSingleton<AuditSealer>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditSealer>());
        builder.Services.AddProblemDetails();
    }
}
