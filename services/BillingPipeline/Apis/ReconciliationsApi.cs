using System.Globalization;
using System.Text.Json.Nodes;
using Tokage.BillingPipeline.Reconciliation;
using static Tokage.BillingPipeline.Apis.BillingErrors;

namespace Tokage.BillingPipeline.Apis;

/// <summary>
/// Reconciliation with the providers' bills (<c>/v1/reconciliations</c>): the body is the provider's cost report as it
/// came (<c>?provider=openai|anthropic</c>, JSON, or CSV for Anthropic by <c>Content-Type: text/csv</c>), compared per
/// day and model with Tokage's metered cost. A report that cannot be read is a 400 naming the problem, and nothing is kept.
/// </summary>
public static class ReconciliationsApi
{
    /// <summary>The largest report taken in one upload (a month of daily buckets grouped by line item is far less).</summary>
    private const int MaxReportBytes = 32 * 1024 * 1024;

    public static void MapReconciliationsApi(this WebApplication app)
    {
        var reconciliations = app.MapGroup("/v1/reconciliations").WithTags("Reconciliations");
        reconciliations.MapPost("/", (HttpContext context, Reconciliations service, TimeProvider time, string? provider, string? threshold_percent) =>
            BillingCaller.AsTenantAsync(context, tenant => CreateAsync(context, service, tenant, provider, threshold_percent, time.GetUtcNow())));
        reconciliations.MapGet("/", (HttpContext context, Reconciliations service) =>
            BillingCaller.AsTenantAsync(context, async tenant => Results.Ok(new JsonObject
            {
                ["reconciliations"] = new JsonArray([.. await service.ListAsync(tenant, context.RequestAborted)]),
            })));
        reconciliations.MapGet("/{id:guid}", (HttpContext context, Reconciliations service, Guid id) =>
            BillingCaller.AsTenantAsync(context, async tenant =>
                await service.GetAsync(tenant, id, context.RequestAborted) is { } result ? Results.Ok(result) : NotFound($"Reconciliation '{id}'")));
        reconciliations.MapDelete("/{id:guid}", (HttpContext context, Reconciliations service, Guid id) =>
            BillingCaller.AsTenantAsync(context, async tenant =>
                await service.DeleteAsync(tenant, id, context.RequestAborted) ? Results.NoContent() : NotFound($"Reconciliation '{id}'")));
    }

    private static async Task<IResult> CreateAsync(HttpContext context, Reconciliations service, Guid tenant, string? provider, string? threshold, DateTimeOffset now)
    {
        if (provider is null || !ProviderCostReports.Providers.Contains(provider))
        {
            return Invalid("provider", $"'provider' is required: {string.Join(" or ", ProviderCostReports.Providers)}.");
        }

        var thresholdPercent = Reconciliations.DefaultThresholdPercent;
        if (threshold is not null && (!decimal.TryParse(threshold, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out thresholdPercent) || thresholdPercent > 100m))
        {
            return Invalid("threshold_percent", "'threshold_percent' is a decimal from 0 to 100 (default 0.5).");
        }

        var mediaType = context.Request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        var format = mediaType switch
        {
            "application/json" or null or "" => "json",
            "text/csv" => "csv",
            _ => null,
        };
        if (format is null)
        {
            return Invalid("Content-Type", "The report is sent as application/json or (Anthropic) text/csv.");
        }

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        if (buffer.Length > MaxReportBytes)
        {
            return Invalid("report", $"The report is larger than {MaxReportBytes / 1024 / 1024} MiB: upload it in parts (a month at a time).");
        }

        var content = buffer.ToArray();
        var report = ProviderCostReports.Read(provider, format, content);
        if (report.Errors.Count > 0)
        {
            return Results.ValidationProblem(report.Errors, title: "The cost report cannot be reconciled", detail: "Nothing was stored.");
        }

        var (result, refusal) = await service.CreateAsync(tenant, report, content, thresholdPercent, now, context.RequestAborted);
        return refusal is not null
            ? Results.ValidationProblem(new Dictionary<string, string[]> { [refusal.Field] = [refusal.Message] }, title: "The cost report cannot be reconciled", detail: "Nothing was stored.")
            : Results.Created($"/v1/reconciliations/{result!["id"]}", result);
    }
}
