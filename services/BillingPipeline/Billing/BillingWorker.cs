using Microsoft.Extensions.Options;
using Npgsql;

namespace Tokage.BillingPipeline.Billing;

/// <summary>Every <see cref="BillingOptions.Interval"/>, for each active tenant: issue what is due, refresh drafts, close days, export them, send webhooks.</summary>
public sealed class BillingWorker(
    NpgsqlDataSource database, InvoiceEngine invoices, DailyStatements statements, DailyExports exports, BillingWebhookSender webhooks, TimeProvider time, IOptions<BillingOptions> options,
    ILogger<BillingWorker> logger) : BackgroundService
{
    public async Task RunOnceAsync(CancellationToken ct)
    {
        foreach (var tenant in await BillingRecords.ActiveTenantsAsync(database, ct))
        {
            // One tenant's failure leaves the others' invoices on time, and its statements are closed all the same;
            // the next pass tries again.
            try
            {
                await invoices.RunAsync(tenant, time.GetUtcNow(), ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Invoicing tenant {Tenant} failed; the next pass tries again.", tenant);
            }

            try
            {
                await statements.CloseDueAsync(tenant, time.GetUtcNow(), ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Closing the statements of tenant {Tenant} failed; the next pass tries again.", tenant);
            }

            try
            {
                await exports.ExportDueAsync(tenant, time.GetUtcNow(), ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Exporting the days of tenant {Tenant} failed; the next pass tries again.", tenant);
            }

            try
            {
                await webhooks.DeliverDueAsync(tenant, ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Delivering the billing webhooks of tenant {Tenant} failed; the next pass tries again.", tenant);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Interval, time);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "A billing pass failed; the next one tries again.");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
