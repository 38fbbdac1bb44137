using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using ClickHouse.Driver;
using ClickHouse.Driver.Utility;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.Analytics.Queries;
using Tokage.Billing.Plans;
using Tokage.BillingPipeline.Billing;
using Tokage.Integrations;
using Tokage.Testing;

namespace Tokage.Bench;

/// <summary>
/// Billing at scale: a month of invoices issued for many customers (usage generated into ClickHouse), in invoices/s,
/// beside the time of the rollup read alone in the same run; and the upcoming invoice of a customer with 1M events in
/// its period over HTTP, p50/p95, beside its usage read alone.
/// </summary>
internal static class BillingBenchmark
{
    private const string Plan = """
        {"base_fee_usd": "49", "minimum_usd": "60", "charges": [
          {"key": "input", "meter": "input_tokens", "price_model": "per_unit", "unit_price_usd": "3", "per_units": 1000000, "included_units": 100000},
          {"key": "output", "meter": "output_tokens", "price_model": "graduated", "per_units": 1000000,
           "tiers": [{"up_to": 1000000, "unit_price_usd": "15"}, {"up_to": null, "unit_price_usd": "10", "flat_fee_usd": "5"}]},
          {"key": "calls", "meter": "events", "price_model": "package", "package_size": 1000, "unit_price_usd": "0.5"},
          {"key": "resale", "meter": "cost_usd", "price_model": "markup", "markup_percent": "15", "filter": {"model": "gpt-4o"}}]}
        """;

    public static Command CreateCommand()
    {
        var customers = new Option<int>("--customers") { Description = "Customers with an invoice to issue.", DefaultValueFactory = _ => 10_000 };
        var events = new Option<int>("--events-per-customer") { Description = "Events each in last month's period.", DefaultValueFactory = _ => 100 };
        var big = new Option<int>("--big-customer-events") { Description = "Events of the one customer whose upcoming invoice is read.", DefaultValueFactory = _ => 1_000_000 };
        var queries = new Option<int>("--queries") { Description = "Timed upcoming-invoice reads.", DefaultValueFactory = _ => 30 };
        var quick = new Option<bool>("--quick") { Description = "500 customers, 20 events each, 50k for the big one, 5 reads: a smoke run." };
        var json = new Option<string>("--json") { Description = "Where the JSON report goes.", DefaultValueFactory = _ => ".tokage/bench/billing.json" };
        var command = new Command("billing", "A month of invoices for 10,000 customers (invoices/s beside the rollup read alone); upcoming-invoice p95 at 1M events.")
        {
            customers, events, big, queries, quick, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var isQuick = parse.GetValue(quick);
            var settings = isQuick
                ? new Settings(500, 20, 50_000, 5)
                : new Settings(parse.GetValue(customers), parse.GetValue(events), parse.GetValue(big), parse.GetValue(queries));
            var report = new BenchReport("billing");
            await RunAsync(settings, report, cancellationToken);
            report.PrintMarkdown(Console.Out);
            await report.WriteJsonAsync(parse.GetValue(json)!);
            return 0;
        });
        return command;
    }

    private sealed record Settings(int Customers, int EventsPerCustomer, int BigCustomerEvents, int Queries);

    private static async Task RunAsync(Settings settings, BenchReport report, CancellationToken cancellationToken)
    {
        report.Parameter("customers", settings.Customers);
        report.Parameter("events_per_customer", settings.EventsPerCustomer);
        report.Parameter("big_customer_events", settings.BigCustomerEvents);
        report.Parameter("queries", settings.Queries);

        var stack = new ControlPlaneStack { Settings = new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning" } };
        var host = await Progress.StepAsync("starting the ClickHouse-local host", () => ClickHouseLocalProcess.StartAsync());
        try
        {
            await Progress.StepAsync("starting PostgreSQL, Redis, the control plane and auth", stack.InitializeAsync);
            using var analytics = await AnalyticsBenchmark.NewDatabaseAsync(host, "billing");
            await using var database = NpgsqlDataSource.Create(stack.AppRoleConnectionString);
            var tenant = Guid.Parse((string)(await stack.PostAsync("/v1/tenants", new { name = "bench-billing" }))["tenant_id"]!);
            var now = DateTimeOffset.UtcNow;
            var thisMonth = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
            var lastMonth = thisMonth.AddMonths(-1);

            await Progress.StepAsync($"creating {settings.Customers:N0} customers on a plan since {lastMonth:yyyy-MM-dd}, and the big one", () => SeedAsync(database, tenant, settings, lastMonth, thisMonth, cancellationToken));
            await Progress.StepAsync($"generating {settings.Customers * (long)settings.EventsPerCustomer:N0} events last month and {settings.BigCustomerEvents:N0} for the big customer this month",
                () => GenerateUsageAsync(analytics, tenant, settings, lastMonth, thisMonth, now, cancellationToken));

            var usage = new CustomerUsageQueries(analytics);
            var options = Options.Create(new BillingOptions());
            var engine = new InvoiceEngine(database, usage, options, NullLogger<InvoiceEngine>.Instance);

            // The read every issuing pass needs at least: every customer's month from the rollup, in the same run.
            var readAlone = new List<double>();
            for (var i = 0; i < 3; i++)
            {
                readAlone.Add(await Sampling.MillisecondsAsync(() => usage.InRangeAsync(tenant.ToString(), null, lastMonth, thisMonth, cancellationToken)));
            }

            var issued = 0;
            var seconds = await Progress.StepAsync("issuing last month's invoices", async () =>
                await Sampling.MillisecondsAsync(async () => issued = await engine.RunAsync(tenant, now, cancellationToken)) / 1000);
            readAlone.Add(await Sampling.MillisecondsAsync(() => usage.InRangeAsync(tenant.ToString(), null, lastMonth, thisMonth, cancellationToken)));
            await VerifyAsync(database, tenant, settings.Customers, issued);
            report.Add(new Measurement($"a month of invoices for {settings.Customers:N0} customers (issue + drafts of the running period)", issued / seconds, "invoices/s"));
            report.Add(new Measurement("the same pass, wall time", seconds, "s", "the rollup read of every customer's month alone (median of 4)", Statistics.Median(readAlone) / 1000));

            await MeasureUpcomingAsync(stack, host, analytics, tenant, settings, thisMonth, usage, report, cancellationToken);
            await MeasureOutputsAsync(database, usage, tenant, settings, lastMonth, report, cancellationToken);
        }
        finally
        {
            await stack.DisposeAsync();
            await host.DisposeAsync();
            HostFixture.TryDelete(host.DataPath);
        }
    }

    /// <summary>The customers, their ids, one plan and a subscription each, as the billing pipeline's role writes them.</summary>
    private static Task SeedAsync(NpgsqlDataSource database, Guid tenant, Settings settings, DateTimeOffset lastMonth, DateTimeOffset thisMonth, CancellationToken ct) =>
        database.InTenantAsync(tenant, async (connection, transaction) =>
        {
            var errors = new Dictionary<string, string[]>();
            using var plan = System.Text.Json.JsonDocument.Parse(Plan);
            var definition = PlanJson.Write(PlanJson.Read(plan.RootElement, errors) ?? throw new InvalidOperationException(string.Join("; ", errors.Keys))).ToJsonString();
            await using var command = new NpgsqlCommand("""
                INSERT INTO billing_settings (tenant_id, grace_hours) VALUES (@tenant, 0);
                INSERT INTO plans (id, tenant_id, key, name, created_at) VALUES (@plan, @tenant, 'pro', 'Pro', now());
                INSERT INTO plan_versions (id, tenant_id, plan_id, version, definition, created_at) VALUES (@version, @tenant, @plan, 1, @definition::jsonb, now());
                INSERT INTO customers (id, tenant_id, external_id, name, created_at, updated_at)
                    SELECT md5('c' || n)::uuid, @tenant, 'c' || n, 'Customer ' || n, now(), now() FROM generate_series(0, @customers - 1) AS n
                    UNION ALL SELECT md5('big')::uuid, @tenant, 'big', 'The big customer', now(), now();
                INSERT INTO customer_ids (tenant_id, value, customer_id, is_alias) SELECT tenant_id, external_id, id, false FROM customers;
                INSERT INTO subscriptions (id, tenant_id, customer_id, plan_version_id, start_date, anchor_day, created_at)
                    SELECT gen_random_uuid(), @tenant, id, @version, CASE WHEN external_id = 'big' THEN @this_month ELSE @last_month END, 1, now() FROM customers;
                """, connection, transaction);
            command.Parameters.AddWithValue("tenant", tenant);
            command.Parameters.AddWithValue("plan", Guid.NewGuid());
            command.Parameters.AddWithValue("version", Guid.NewGuid());
            command.Parameters.AddWithValue("definition", definition);
            command.Parameters.AddWithValue("customers", settings.Customers);
            command.Parameters.AddWithValue("last_month", DateOnly.FromDateTime(lastMonth.UtcDateTime));
            command.Parameters.AddWithValue("this_month", DateOnly.FromDateTime(thisMonth.UtcDateTime));
            return await command.ExecuteNonQueryAsync(ct);
        }, ct);

    private static async Task GenerateUsageAsync(ClickHouseClient analytics, Guid tenant, Settings settings, DateTimeOffset lastMonth, DateTimeOffset thisMonth, DateTimeOffset now, CancellationToken ct)
    {
        var monthSeconds = (long)(thisMonth - lastMonth).TotalSeconds;
        var soFar = Math.Max(3600, (long)(now - thisMonth).TotalSeconds - 60);
        foreach (var (count, customer, from, span, offset) in new[]
        {
            ((long)settings.Customers * settings.EventsPerCustomer, $"concat('c', toString(number % {settings.Customers}))", lastMonth, monthSeconds, 0L),
            (settings.BigCustomerEvents, "'big'", thisMonth, soFar, (long)settings.Customers * settings.EventsPerCustomer),
        })
        {
            await analytics.ExecuteNonQueryAsync($"""
                INSERT INTO usage_events (tenant_id, event_id, event_time, ingest_time, ingest_version, source, provider, model, application, customer,
                    input_tokens, output_tokens, priced, cost_usd)
                SELECT '{tenant}', concat('e', toString(number + {offset})),
                    toDateTime64({from.ToUnixTimeSeconds()} + intHash32(number) % {span}, 3, 'UTC'), now64(3), 1, 'http', 'openai',
                    if(number % 3 = 0, 'gpt-4o-mini', 'gpt-4o'), 'app', {customer},
                    1000 + number % 5000, 100 + number % 700, true, toDecimal128(1000 + number % 5000, 18) * toDecimal128('0.0000025', 18)
                FROM numbers({count})
                """, cancellationToken: ct);
        }
    }

    /// <summary>One issued invoice per customer, numbered 1..N: the figure counts what a user gets.</summary>
    private static async Task VerifyAsync(NpgsqlDataSource database, Guid tenant, int customers, int issued)
    {
        var (count, max) = await database.InTenantAsync(tenant, async (c, t) =>
        {
            await using var command = new NpgsqlCommand("SELECT count(*), coalesce(max(number), 0) FROM invoices WHERE status = 'issued'", c, t);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            return (reader.GetInt64(0), reader.GetInt64(1));
        }, CancellationToken.None);
        if (issued != customers || count != customers || max != customers)
        {
            throw new InvalidOperationException($"Expected {customers} issued invoices numbered 1..{customers}; the pass issued {issued}, the table has {count} up to {max}.");
        }
    }

    /// <summary>
    /// A closed day of every customer exported (its frozen lines as Parquet and CSV, a manifest) beside reading the same
    /// lines alone; and a month's OpenAI cost report (daily buckets, a line per model and kind) reconciled beside the
    /// metered read it needs alone.
    /// </summary>
    private static async Task MeasureOutputsAsync(
        NpgsqlDataSource database, CustomerUsageQueries usage, Guid tenant, Settings settings, DateTimeOffset lastMonth, BenchReport report, CancellationToken ct)
    {
        var day = DateOnly.FromDateTime(lastMonth.UtcDateTime).AddDays(14);
        var closedAt = new DateTimeOffset(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        // A lookback of one day closes that day alone (grace 0 here).
        var statements = new DailyStatements(database, usage, Options.Create(new BillingOptions { StatementLookbackDays = 1 }));
        await Progress.StepAsync($"closing {day:yyyy-MM-dd} (its statement and usage lines)", () => statements.CloseDueAsync(tenant, closedAt, ct));
        var store = Path.Combine(Path.GetTempPath(), "tokage-bench-exports-" + Guid.NewGuid().ToString("N"));
        try
        {
            var exports = new DailyExports(database, new Tokage.Integrations.ObjectStore.FileSystemObjectStore(store), Options.Create(new BillingOptions()), NullLogger<DailyExports>.Instance);
            var rows = 0;
            var readAlone = await Sampling.MillisecondsAsync(async () => rows = (await database.InTenantAsync(tenant, (c, t) => BillingRecords.ReadAsync(c, t,
                "SELECT customer, provider, model, application, events, input_tokens, output_tokens, cost_usd FROM daily_usage_lines WHERE day = @day ORDER BY customer, provider, model, application",
                r => r.GetDecimal(7), ct, ("day", day)), ct)).Count);
            // The first export writes the objects; the later ones make the same bytes, which the write-once store compares and keeps.
            var exported = new List<double>();
            await Progress.StepAsync($"exporting {day:yyyy-MM-dd} three times", async () =>
            {
                for (var i = 0; i < 3; i++)
                {
                    exported.Add(await Sampling.MillisecondsAsync(() => exports.ExportAsync(tenant, day, closedAt, ct)));
                }
            });
            report.Add(new Measurement($"a day's export ({rows:N0} usage lines: Parquet, CSV, manifest; median of 3)", Statistics.Median(exported), "ms", "reading the same lines alone", readAlone));
        }
        finally
        {
            Directory.Delete(store, recursive: true);
        }

        // The month as OpenAI's Costs API reports it: per day, gpt-4o and gpt-4o-mini, input and output.
        var days = Enumerable.Range(0, DateTime.DaysInMonth(lastMonth.Year, lastMonth.Month)).Select(d => DateOnly.FromDateTime(lastMonth.UtcDateTime).AddDays(d)).ToList();
        var costs = new JsonObject
        {
            ["object"] = "page",
            ["data"] = new JsonArray([.. days.Select(d => (JsonNode)new JsonObject
            {
                ["start_time"] = new DateTimeOffset(d.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToUnixTimeSeconds(),
                ["end_time"] = new DateTimeOffset(d.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToUnixTimeSeconds(),
                ["results"] = new JsonArray([.. new[] { "gpt-4o-2024-08-06, input", "gpt-4o-2024-08-06, output", "gpt-4o-mini-2024-07-18, input", "gpt-4o-mini-2024-07-18, output" }
                    .Select(item => (JsonNode)new JsonObject { ["amount"] = new JsonObject { ["value"] = JsonValue.Create(12.345678m), ["currency"] = "usd" }, ["line_item"] = item })]),
            })]),
        };
        var content = System.Text.Encoding.UTF8.GetBytes(costs.ToJsonString());
        var reconciliations = new Tokage.BillingPipeline.Reconciliation.Reconciliations(database, usage);
        var from = days[0];
        var meteredAlone = await Sampling.MillisecondsAsync(() => usage.ByDayAndModelAsync(tenant.ToString(), "openai", from, from.AddDays(days.Count), ct));
        var reconciled = new List<double>();
        await Progress.StepAsync("reconciling a month's OpenAI cost report three times", async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                JsonObject? result = null;
                reconciled.Add(await Sampling.MillisecondsAsync(async () =>
                {
                    var parsed = Tokage.BillingPipeline.Reconciliation.ProviderCostReports.Read("openai", "json", content);
                    var (created, refusal) = await reconciliations.CreateAsync(tenant, parsed, content, 0.5m, DateTimeOffset.UtcNow, ct);
                    result = created ?? throw new InvalidOperationException(refusal!.Message);
                }));
                // Deleted, so the same days can be reconciled again.
                await reconciliations.DeleteAsync(tenant, Guid.Parse((string)result!["id"]!), ct);
            }
        });
        report.Add(new Measurement($"a month's cost report reconciled ({days.Count} days × 2 models, {content.Length / 1024:N0} KiB; median of 3)", Statistics.Median(reconciled), "ms",
            "the metered cost per day and model read alone", meteredAlone));
    }

    private static async Task MeasureUpcomingAsync(
        ControlPlaneStack stack, ClickHouseLocalProcess host, ClickHouseClient analytics, Guid tenant, Settings settings, DateTimeOffset thisMonth,
        CustomerUsageQueries usage, BenchReport report, CancellationToken ct)
    {
        var database = (await analytics.ExecuteScalarAsync("SELECT currentDatabase()", cancellationToken: ct))!.ToString();
        // The service checks its archive is writable to be ready; billing writes nothing there.
        var archive = Directory.CreateTempSubdirectory("tokage-bench-archive-");
        var billing = await Progress.StepAsync("starting the billing pipeline", () => stack.StartServiceAsync("BillingPipeline", new Dictionary<string, string>
        {
            ["ConnectionStrings__analytics"] = $"{host.ConnectionString};Database={database}",
            ["ConnectionStrings__archive"] = $"Provider=FileSystem;Path={archive.FullName}",
            ["Tokage__Billing__Interval"] = "01:00:00",
            ["Tokage__ApiKeys__AuthAddress"] = stack.Auth.GrpcUri.ToString().TrimEnd('/'),
            ["Tokage__ApiKeys__Timeout"] = "00:00:15",
        }));
        var key = (string)(await stack.PostAsync($"/v1/tenants/{tenant}/keys", new { name = "billing", scopes = new[] { "billing" } }))["api_key"]!;
        using var http = new HttpClient { BaseAddress = billing.HttpUri, Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        var upcoming = JsonNode.Parse(await http.GetStringAsync("/v1/customers/big/upcoming-invoice", ct))!;
        var events = upcoming["lines"]!.AsArray().Single(l => (string?)l!["meter"] == "events")!["quantity"]!.GetValue<string>();
        if (events != settings.BigCustomerEvents.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"The upcoming invoice counts {events} events; {settings.BigCustomerEvents} were generated.");
        }

        var periodEnd = thisMonth.AddMonths(1);
        var (invoice, read) = await Progress.StepAsync($"{settings.Queries} upcoming-invoice reads beside the usage read alone", () => Sampling.PairAsync(settings.Queries, 2,
            () => http.GetStringAsync("/v1/customers/big/upcoming-invoice", ct),
            () => usage.InRangeAsync(tenant.ToString(), ["big"], thisMonth, periodEnd, ct)));
        var what = $"upcoming invoice over HTTP, {settings.BigCustomerEvents:N0} events in the period";
        report.Add(new Measurement($"{what}, p50", Statistics.Median(invoice), "ms", "the customer's usage read alone", Statistics.Median(read)));
        report.Add(new Measurement($"{what}, p95", Statistics.Percentile(invoice, 95), "ms", "the customer's usage read alone", Statistics.Percentile(read, 95)));
        archive.Delete(recursive: true);
    }
}
