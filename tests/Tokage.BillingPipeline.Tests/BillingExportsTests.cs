using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Parquet.Serialization;
using Tokage.Analytics;
using Tokage.BillingPipeline.Billing;
using Tokage.Integrations.ObjectStore;

namespace Tokage.BillingPipeline.Tests;

/// <summary>
/// Daily exports through a billing-pipeline process: a closed day's usage lines and the invoices issued on a day, as
/// Parquet and CSV with a manifest of row counts and SHA-256s, read back with Parquet.Net; exporting a day again makes
/// the same bytes.
/// </summary>
[Collection(BillingOutputsCollection.Name)]
public sealed class BillingExportsTests(BudgetFixture fixture)
{
    [Fact]
    public async Task AClosedDayIsExportedAsParquetAndCsvWithAManifestAndExportingItAgainMakesTheSameBytes()
    {
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("billing-exports"))["tenant_id"]!;
        var day = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-3);
        var noon = day.ToDateTime(new TimeOnly(12, 0), DateTimeKind.Utc);
        await fixture.Writer.WriteEventsAsync([
            BillingApi.Event(tenant, noon, "acme", 1_000, 0.1234567m),
            BillingApi.Event(tenant, noon.AddHours(3), "acme", 2_000, 0.2m),
            BillingApi.Event(tenant, noon.AddHours(1), "beta", 500, 0.05m, model: "gpt-4o-mini"),
            BillingApi.Event(tenant, noon.AddDays(1), "acme", 9_000, 9m),
        ]);

        var billing = await fixture.StartBillingPipelineAsync();
        using var api = await BillingApi.ForTenantAsync(fixture, billing, tenant);
        await api.OkAsync(HttpMethod.Patch, "/v1/billing/settings", new { grace_hours = 0 });
        var manifest = await ExportedAsync(api, day);

        // Four objects under the tenant's day, each with its rows and SHA-256, as served.
        Assert.Equal($"exports/tenant={tenant}/date={day:yyyy-MM-dd}/manifest.json", (string)manifest["manifest_key"]!);
        var objects = manifest["objects"]!.AsArray().ToDictionary(o => $"{o!["table"]}.{o["format"]}", o => o!);
        Assert.Equal(["invoices.csv", "invoices.parquet", "usage.csv", "usage.parquet"], objects.Keys.Order());
        foreach (var (name, entry) in objects)
        {
            var bytes = await api.BytesAsync($"/v1/exports/{day:yyyy-MM-dd}/{name}");
            Assert.Equal((string)entry["sha256"]!, Convert.ToHexStringLower(SHA256.HashData(bytes)));
            Assert.Equal((int)entry["bytes"]!, bytes.Length);
        }

        Assert.Equal((2, 0), ((int)objects["usage.csv"]["rows"]!, (int)objects["invoices.csv"]["rows"]!));
        var csv = Encoding.UTF8.GetString(await api.BytesAsync($"/v1/exports/{day:yyyy-MM-dd}/usage.csv")).TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Equal("day,customer,provider,model,application,events,unpriced_events,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,cost_usd", csv[0]);
        Assert.Equal($"{day:yyyy-MM-dd},acme,openai,gpt-4o,support-bot,2,0,3000,20,0,0,0,0.3234567", csv[1]);
        Assert.Equal($"{day:yyyy-MM-dd},beta,openai,gpt-4o-mini,support-bot,1,0,500,10,0,0,0,0.05", csv[2]);

        // The Parquet file reads back with its exact decimals and its dates.
        using (var parquet = new MemoryStream(await api.BytesAsync($"/v1/exports/{day:yyyy-MM-dd}/usage.parquet")))
        {
            var rows = (await ParquetSerializer.DeserializeAsync<ExportedUsageLine>(parquet)).Data.ToList();
            Assert.Equal([("acme", "gpt-4o", 0.3234567m, day), ("beta", "gpt-4o-mini", 0.05m, day)], rows.Select(r => (r.Customer, r.Model, r.CostUsd, r.Day)));
        }

        // Exporting the day again (late usage meanwhile changes nothing: the day's lines were frozen when it closed) gives the same bytes.
        await fixture.Writer.WriteEventsAsync([BillingApi.Event(tenant, noon.AddHours(5), "acme", 1, 1m)]);
        var manifestBytes = await api.BytesAsync($"/v1/exports/{day:yyyy-MM-dd}/manifest.json");
        var again = await api.OkAsync(HttpMethod.Post, $"/v1/exports/{day:yyyy-MM-dd}");
        Assert.Equal(manifest["manifest_sha256"]!.ToJsonString(), again["manifest_sha256"]!.ToJsonString());
        Assert.Equal(manifestBytes, await api.BytesAsync($"/v1/exports/{day:yyyy-MM-dd}/manifest.json"));

        // Listed; a day not closed yet cannot be exported; bad days and names are 400s; another tenant has none.
        Assert.Contains((await api.OkAsync(HttpMethod.Get, "/v1/exports"))["exports"]!.AsArray(), e => (string)e!["day"]! == $"{day:yyyy-MM-dd}");
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(HttpMethod.Post, $"/v1/exports/{DateTime.UtcNow:yyyy-MM-dd}")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(HttpMethod.Get, "/v1/exports/03-12-2026")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(HttpMethod.Get, $"/v1/exports/{day:yyyy-MM-dd}/passwords.csv")).Status);
        // The operator's CLI lists the day and downloads it, each file checked against the manifest.
        string[] cli = ["--url", fixture.Stack.ControlPlane.HttpUri.ToString(), "--billing-url", billing.HttpUri.ToString(), "--admin-token", ControlPlaneStack.AdminToken, "--tenant", "billing-exports"];
        var listed = await CliProcess.RunAsync(["exports", "list", "--from", $"{day:yyyy-MM-dd}", "--to", $"{day.AddDays(1):yyyy-MM-dd}", .. cli]);
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        Assert.Contains($"{day:yyyy-MM-dd}", listed.Stdout);
        var directory = Path.Combine(Path.GetTempPath(), $"export-{Guid.NewGuid():N}");
        var downloaded = await CliProcess.RunAsync(["exports", "download", $"{day:yyyy-MM-dd}", "--output", directory, .. cli]);
        Assert.True(downloaded.ExitCode == 0, downloaded.Stderr);
        Assert.Equal(["invoices.csv", "invoices.parquet", "manifest.json", "usage.csv", "usage.parquet"], Directory.GetFiles(directory).Select(Path.GetFileName).Order());
        Assert.Equal(manifestBytes, await File.ReadAllBytesAsync(Path.Combine(directory, "manifest.json")));
        Directory.Delete(directory, recursive: true);

        using (var other = await BillingApi.ForNewTenantAsync(fixture, billing, "billing-exports-other"))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await other.SendAsync(HttpMethod.Get, $"/v1/exports/{day:yyyy-MM-dd}")).Status);
        }
    }

    [Fact]
    public async Task TheInvoicesIssuedOnADayAreInItsExportAsIssued()
    {
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("billing-exports-invoices"))["tenant_id"]!;
        var lastMonth = new DateOnly(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1).AddMonths(-1);
        await fixture.Writer.WriteEventsAsync([BillingApi.Event(tenant, lastMonth.ToDateTime(new TimeOnly(9, 0), DateTimeKind.Utc), "acme", 300_000, 1.5m)]);
        var billing = await fixture.StartBillingPipelineAsync();
        using var api = await BillingApi.ForTenantAsync(fixture, billing, tenant);
        await api.OkAsync(HttpMethod.Patch, "/v1/billing/settings", new { grace_hours = 0 });
        await api.OkAsync(HttpMethod.Post, "/v1/customers", new { external_id = "acme", name = "Acme Corp" });
        await api.OkAsync(HttpMethod.Post, "/v1/plans", BillingFlowTests.Plan);
        await api.OkAsync(HttpMethod.Post, "/v1/subscriptions", new { customer = "acme", plan = "pro", start_date = lastMonth.ToString("yyyy-MM-dd"), anchor_day = 1 });
        await api.OkAsync(HttpMethod.Post, "/v1/billing/run");
        var issued = Assert.Single((await api.OkAsync(HttpMethod.Get, "/v1/invoices?status=issued"))["invoices"]!.AsArray())!;
        await api.OkAsync(HttpMethod.Post, $"/v1/invoices/{issued["id"]}/mark-paid");

        // Today's export, as the service makes it tomorrow: the invoice as issued (paying it later is not an edit of the day).
        var store = new FileSystemObjectStore(Path.Combine(fixture.ArchivePath, "in-process"));
        var exports = new DailyExports(fixture.Database, store, Options.Create(new BillingOptions()), NullLogger<DailyExports>.Instance);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var manifest = await exports.ExportAsync(Guid.Parse(tenant), today, DateTimeOffset.UtcNow, CancellationToken.None);
        var invoices = manifest["objects"]!.AsArray().Single(o => (string)o!["key"]! == $"{DailyExports.Prefix(Guid.Parse(tenant), today)}/invoices.parquet")!;
        Assert.Equal(1, (int)invoices["rows"]!);
        using var parquet = new MemoryStream((await store.GetAsync((string)invoices["key"]!))!);
        var row = Assert.Single((await ParquetSerializer.DeserializeAsync<ExportedInvoice>(parquet)).Data);
        Assert.Equal(((string)issued["id"]!, 1L, "acme", "pro", lastMonth, decimal.Parse((string)issued["total_usd"]!, System.Globalization.CultureInfo.InvariantCulture)),
            (row.InvoiceId, row.Number, row.Customer, row.Plan, row.PeriodStart, row.TotalUsd));
        var csv = Encoding.UTF8.GetString((await store.GetAsync($"{DailyExports.Prefix(Guid.Parse(tenant), today)}/invoices.csv"))!);
        Assert.Contains($"{issued["id"]},1,acme,pro,1,{lastMonth:yyyy-MM-dd},", csv);

        // Again: the same objects, taken as a no-op by the write-once store.
        var again = await exports.ExportAsync(Guid.Parse(tenant), today, DateTimeOffset.UtcNow, CancellationToken.None);
        Assert.Equal(manifest["manifest_sha256"]!.ToJsonString(), again["manifest_sha256"]!.ToJsonString());
    }

    /// <summary>Runs billing until the day's export is recorded; its manifest.</summary>
    private static async Task<JsonNode> ExportedAsync(BillingApi api, DateOnly day)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var (status, body) = await api.SendAsync(HttpMethod.Get, $"/v1/exports/{day:yyyy-MM-dd}");
            if (status == HttpStatusCode.OK)
            {
                return body!;
            }

            Assert.True(DateTime.UtcNow < deadline, $"The export of {day:yyyy-MM-dd} did not appear: {(int)status} {body?.ToJsonString()}");
            await api.OkAsync(HttpMethod.Post, "/v1/billing/run");
            await Task.Delay(300);
        }
    }
}
