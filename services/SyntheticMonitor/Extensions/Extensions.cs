using ClickHouse.Driver;
using Microsoft.Extensions.Options;
using OpenTelemetry.Proto.Collector.Trace.V1;
using Tokage.Analytics.Queries;
using Tokage.Contracts.V1;
using Tokage.SyntheticMonitor.Consistency;
using Tokage.SyntheticMonitor.Probes;
using Tokage.SyntheticMonitor.Slo;
using Tokage.Webhooks;

namespace Tokage.SyntheticMonitor.Extensions;

internal static class Extensions
{
    /// <summary>The monitor's clients (the public ingest paths, the query API, the registry, the control plane), its engines and its loops.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MonitorOptions>().BindConfiguration(MonitorOptions.SectionName)
            .Validate(o => o.AdminToken.Length >= Tokage.Integrations.AdminToken.MinimumLength,
                $"{MonitorOptions.SectionName}:AdminToken must be the control plane's admin token: the monitor creates its operations tenant with it.")
            .Validate(o => o.Interval > TimeSpan.Zero && o.PollInterval > TimeSpan.Zero && o.Deadline > o.Slo.Threshold && o.Slo.Objective is > 0m and < 1m,
                $"{MonitorOptions.SectionName}: Interval and PollInterval must be positive, Deadline longer than Slo:Threshold, Slo:Objective between 0 and 1.")
            .Validate(o => o.Channels.All(c => c.Kind is "webhook" or "slack" && Uri.TryCreate(c.Url, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"),
                $"{MonitorOptions.SectionName}:Channels: each needs Kind webhook or slack and an http(s) Url.")
            .ValidateOnStart();

        // Where the usage store and the log are, for the rollup checks (the store's read-only user) and the processor's lag.
        builder.AddClickHouseClient("analytics");
        builder.Services.AddSingleton(sp => new UsageQueries(sp.GetRequiredService<ClickHouseClient>()));
        builder.AddEventLog("events");

        Uri Address(Func<MonitorOptions, string> pick, IServiceProvider sp) => new(pick(sp.GetRequiredService<IOptions<MonitorOptions>>().Value));
        builder.Services.AddHttpClient(ProbeSender.IngestionClient, (sp, c) => c.BaseAddress = Address(o => o.IngestionHttp, sp));
        builder.Services.AddHttpClient(ProbeSender.OtlpHttpClient, (sp, c) => c.BaseAddress = Address(o => o.OtlpHttp, sp));
        builder.Services.AddHttpClient(ProbeRunner.QueryApiClient, (sp, c) => c.BaseAddress = Address(o => o.QueryApi, sp));
        builder.Services.AddHttpClient(ProbeRunner.PriceRegistryClient, (sp, c) => c.BaseAddress = Address(o => o.PriceRegistry, sp));
        builder.Services.AddHttpClient(OperationsTenant.HttpClientName, (sp, c) => c.BaseAddress = Address(o => o.ControlPlane, sp));
        builder.Services.AddGrpcClient<IngestService.IngestServiceClient>((sp, o) => o.Address = Address(o => o.IngestionGrpc, sp));
        builder.Services.AddGrpcClient<TraceService.TraceServiceClient>((sp, o) => o.Address = Address(o => o.OtlpGrpc, sp));

        // Alerts leave through the webhook guard: public addresses only, unless Tokage:Webhooks allows private networks.
        builder.Services.AddWebhookTargets();
        builder.Services.AddHttpClient(AlertNotifier.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => WebhookTargets.Handler(sp.GetRequiredService<IOptions<WebhookTargetsOptions>>().Value));

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<MonitorMetrics>();
        builder.Services.AddSingleton(sp => new FreshnessSlo(sp.GetRequiredService<IOptions<MonitorOptions>>().Value.Slo));
        builder.Services.AddSingleton<AlertNotifier>();
        builder.Services.AddSingleton<OperationsTenant>();
        builder.Services.AddSingleton<ProbeSender>();
        builder.Services.AddSingleton<ProbeRunner>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ProbeRunner>());
        builder.Services.AddSingleton<ConsistencyChecker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ConsistencyChecker>());
    }
}
