using System.CommandLine;
using System.Text.Json.Nodes;

namespace Tokage.Cli;

/// <summary>
/// Billing commands: the billing pipeline's API (<c>--billing-url</c>, else <c>$TOKAGE_BILLING_URL</c>, else
/// http://localhost:8075) with the admin token, for the tenant <c>--tenant</c> names (an id, or a name the control plane resolves).
/// </summary>
internal static partial class Commands
{
    public const string DefaultBillingUrl = "http://localhost:8075";

    private static readonly Option<string?> BillingUrl = new("--billing-url") { Description = $"Billing pipeline URL (default: $TOKAGE_BILLING_URL, else {DefaultBillingUrl}).", Recursive = true };

    private static Uri BillingAddress(ParseResult parse) =>
        ServiceAddress(parse.GetValue(BillingUrl), "TOKAGE_BILLING_URL", DefaultBillingUrl, "the billing pipeline");

    /// <summary>Runs a billing call as the operator for the named tenant: <c>?tenant=&lt;id&gt;</c> on every path.</summary>
    private static Task<int> BillingAsync(ParseResult parse, TextWriter output, Func<AdminApiClient, Func<string, string>, Task<(JsonNode? Json, string Text)>> action) =>
        RunAsync(parse, output, async controlPlane =>
        {
            var tenantId = await TenantIdAsync(controlPlane, parse.GetValue(Tenant)!, CancellationToken.None);
            var connection = CliConnection.Resolve(parse.GetValue(Url), parse.GetValue(AdminToken), Environment.CurrentDirectory, Environment.GetEnvironmentVariable);
            using var billing = new AdminApiClient(connection with { Url = BillingAddress(parse) }, "the billing pipeline");
            return await action(billing, path => path + (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "tenant=" + tenantId);
        });

    /// <summary><c>?name=value&amp;…</c> of the options given (escaped), or "" when none is.</summary>
    private static string QueryString(params (string Name, string? Value)[] parameters)
    {
        var given = parameters.Where(q => q.Value is not null).Select(q => $"{q.Name}={Uri.EscapeDataString(q.Value!)}").ToList();
        return given.Count == 0 ? "" : "?" + string.Join("&", given);
    }

    private static Command CustomersCommand(TextWriter output)
    {
        var externalId = new Argument<string>("external-id") { Description = "The id events name the customer by (field 'customer', OTLP 'tokage.customer')." };
        var name = new Option<string?>("--name") { Description = "The customer's name, shown on invoices." };
        var email = new Option<string?>("--email") { Description = "Billing e-mail." };
        var zone = new Option<string?>("--time-zone") { Description = "IANA zone its periods are counted in (default UTC)." };
        var aliases = new Option<string[]>("--alias") { Description = "Another id events may name it by; repeat for several.", AllowMultipleArgumentsPerToken = true };

        var create = new Command("create", "Create a customer of the tenant.") { Tenant, externalId, name, email, zone, aliases };
        create.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var created = await client.PostAsync(path("/v1/customers"), new { external_id = p.GetValue(externalId), name = p.GetValue(name), email = p.GetValue(email), time_zone = p.GetValue(zone), aliases = p.GetValue(aliases) ?? [] }, ct);
            return (created, Text(created!, "Created customer {external_id} ({id}), time zone {time_zone}."));
        }));
        var list = new Command("list", "List the tenant's customers.") { Tenant };
        list.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var customers = await client.GetAsync(path("/v1/customers"), ct);
            return (customers, Table(customers!["customers"]!.AsArray(), ["external_id", "name", "aliases", "email", "time_zone", "created_at"]));
        }));
        var show = new Command("show", "Show a customer (by external id or alias).") { Tenant, externalId };
        show.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var found = await client.GetAsync(path($"/v1/customers/{Uri.EscapeDataString(p.GetValue(externalId)!)}"), ct);
            return (found, Table(new JsonArray(found!.DeepClone()), ["id", "external_id", "name", "aliases", "email", "time_zone", "stripe_customer_id"]));
        }));
        return new Command("customers", "The tenant's own customers (billing).") { create, list, show };
    }

    private static Command PlansCommand(TextWriter output)
    {
        var key = new Argument<string>("key") { Description = "The plan's key." };
        var file = new Option<FileInfo>("--file", "-f") { Description = "The plan as JSON (key, name, base_fee_usd, minimum_usd, charges); see services/BillingPipeline/README.md.", Required = true };

        var create = new Command("create", "Create a plan, or add a version to the plan with that key.") { Tenant, file };
        create.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var plan = JsonNode.Parse(await File.ReadAllTextAsync(p.GetValue(file)!.FullName, ct)) ?? throw new CliException("The plan file is empty.");
            var created = await client.PostAsync(path("/v1/plans"), plan, ct);
            return (created, Text(created!, "Plan {key} version {version}."));
        }));
        var list = new Command("list", "List plans (latest versions).") { Tenant };
        list.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var plans = await client.GetAsync(path("/v1/plans"), ct);
            return (plans, Table(plans!["plans"]!.AsArray(), ["key", "name", "version", "base_fee_usd", "minimum_usd", "created_at"]));
        }));
        var show = new Command("show", "Show every version of a plan.") { Tenant, key };
        show.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var plan = await client.GetAsync(path($"/v1/plans/{Uri.EscapeDataString(p.GetValue(key)!)}"), ct);
            return (plan, plan!.ToJsonString(PrintedJson));
        }));
        return new Command("plans", "Versioned plans (billing).") { create, list, show };
    }

    private static Command SubscriptionsCommand(TextWriter output)
    {
        var customer = new Option<string>("--customer") { Description = "The customer's external id or alias.", Required = true };
        var plan = new Option<string>("--plan") { Description = "The plan's key.", Required = true };
        var version = new Option<int?>("--plan-version") { Description = "The version (default: the latest)." };
        var start = new Option<string?>("--start-date") { Description = "YYYY-MM-DD in the customer's zone (default: today there)." };
        var anchor = new Option<int?>("--anchor-day") { Description = "Day of the month periods start (default: the start date's)." };
        var filter = new Option<string?>("--customer") { Description = "Only this customer's subscriptions." };

        var create = new Command("create", "Put a customer on a plan.") { Tenant, customer, plan, version, start, anchor };
        create.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var created = await client.PostAsync(path("/v1/subscriptions"), new { customer = p.GetValue(customer), plan = p.GetValue(plan), plan_version = p.GetValue(version), start_date = p.GetValue(start), anchor_day = p.GetValue(anchor) }, ct);
            return (created, Text(created!, "Subscription {id}: {customer} on {plan} v{plan_version} from {start_date}."));
        }));
        var list = new Command("list", "List subscriptions.") { Tenant, filter };
        list.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var query = p.GetValue(filter) is { } c ? $"?customer={Uri.EscapeDataString(c)}" : "";
            var subscriptions = await client.GetAsync(path("/v1/subscriptions" + query), ct);
            return (subscriptions, Table(subscriptions!["subscriptions"]!.AsArray(), ["id", "customer", "plan", "plan_version", "start_date", "end_date", "anchor_day", "current_period.end"]));
        }));
        return new Command("subscriptions", "Customers on plans (billing).") { create, list };
    }

    private static Command InvoicesCommand(TextWriter output)
    {
        var id = new Argument<string>("invoice-id") { Description = "The invoice's id (see 'invoices list')." };
        var customer = new Option<string?>("--customer") { Description = "Only this customer's invoices." };
        var status = new Option<string?>("--status") { Description = "draft, issued, paid or void." };
        var file = new Option<FileInfo>("--output", "-o") { Description = "Where to write the PDF.", Required = true };

        var list = new Command("list", "List invoices, newest period first.") { Tenant, customer, status };
        list.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var invoices = await client.GetAsync(path("/v1/invoices" + QueryString(("customer", p.GetValue(customer)), ("status", p.GetValue(status)))), ct);
            return (invoices, Table(invoices!["invoices"]!.AsArray(), ["id", "number", "status", "customer", "plan", "period_start", "period_end", "subtotal_usd", "credits_usd", "total_usd"]));
        }));
        var show = new Command("show", "Show an invoice with its lines.") { Tenant, id };
        show.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var invoice = await client.GetAsync(path($"/v1/invoices/{Uri.EscapeDataString(p.GetValue(id)!)}"), ct);
            var lines = Table(invoice!["lines"]!.AsArray(), ["kind", "description", "quantity", "included_units", "unit_price_usd", "amount_usd"]);
            return (invoice, Text(invoice, "Invoice {number} ({status}) for {customer}, {period_start} to {period_end}, plan {plan} v{plan_version}\n")
                + lines + Text(invoice, "\nSubtotal {subtotal_usd}  Credits {credits_usd}  Total {total_usd} USD"));
        }));
        var pdf = new Command("pdf", "Write an invoice's PDF to a file.") { Tenant, id, file };
        pdf.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var bytes = await client.GetBytesAsync(path($"/v1/invoices/{Uri.EscapeDataString(p.GetValue(id)!)}.pdf"), ct);
            await File.WriteAllBytesAsync(p.GetValue(file)!.FullName, bytes, ct);
            return (new JsonObject { ["file"] = p.GetValue(file)!.FullName, ["bytes"] = bytes.Length }, $"Wrote {p.GetValue(file)!.FullName} ({bytes.Length} bytes).");
        }));
        var run = new Command("run", "Issue what is due and refresh drafts now (the pipeline does it every minute).") { Tenant };
        run.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var result = await client.PostAsync(path("/v1/billing/run"), new { }, ct);
            return (result, Text(result!, "Issued {issued} invoices; closed {days_closed} statement days; exported {days_exported} days; delivered {webhooks_delivered} webhooks."));
        }));
        return new Command("invoices", "Invoices (billing).") { list, show, pdf, run };
    }

    private static Command StripeCommand(TextWriter output)
    {
        var keyFile = new Option<FileInfo?>("--secret-key-file") { Description = "A file holding the Stripe secret key (else $STRIPE_SECRET_KEY); never a command-line argument, which shells keep." };
        var status = new Option<string?>("--status") { Description = "pending, sent or parked." };

        var connect = new Command("connect", "Connect the tenant's Stripe account (its secret key is stored encrypted and never shown again).") { Tenant, keyFile };
        connect.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var secret = p.GetValue(keyFile) is { } file ? (await File.ReadAllTextAsync(file.FullName, ct)).Trim() : Environment.GetEnvironmentVariable("STRIPE_SECRET_KEY");
            if (string.IsNullOrWhiteSpace(secret))
            {
                throw new CliException("No Stripe secret key: pass --secret-key-file or set STRIPE_SECRET_KEY.");
            }

            var connected = await client.PutAsync(path("/v1/stripe/connection"), new { secret_key = secret }, ct);
            return (connected, Text(connected!, "Connected Stripe ({key_hint}, livemode {livemode})."));
        }));
        var show = new Command("status", "Show the Stripe connection and how many meter events are pending, sent and parked.") { Tenant };
        show.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var found = await client.GetAsync(path("/v1/stripe/connection"), ct);
            return (found, (bool)found!["connected"]!
                ? Text(found, "Connected ({key_hint}, livemode {livemode}) since {connected_at}.") + Text(found["meter_events"]!, "\nMeter events: {pending} pending, {sent} sent, {parked} parked.")
                : "Not connected.");
        }));
        var events = new Command("meter-events", "List the meter events sent to Stripe or waiting, newest hour first.") { Tenant, status };
        events.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var found = await client.GetAsync(path("/v1/stripe/meter-events" + QueryString(("status", p.GetValue(status)))), ct);
            return (found, Table(found!["meter_events"]!.AsArray(), ["hour", "customer", "charge", "event_name", "seq", "value", "status", "attempts", "last_error"]));
        }));
        return new Command("stripe", "Stripe meter sync (billing).") { connect, show, events };
    }

    private static Command ExportsCommand(TextWriter output)
    {
        var from = new Option<string?>("--from") { Description = "The first day, YYYY-MM-DD (UTC)." };
        var to = new Option<string?>("--to") { Description = "The day after the last, YYYY-MM-DD (UTC)." };
        var day = new Argument<string>("day") { Description = "The exported day, YYYY-MM-DD (UTC)." };
        var directory = new Option<DirectoryInfo>("--output", "-o") { Description = "The directory to write the day's objects and manifest into.", Required = true };

        var list = new Command("list", "List the daily exports (usage lines and issued invoices as Parquet and CSV, with a manifest), newest first.") { Tenant, from, to };
        list.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var exports = await client.GetAsync(path("/v1/exports" + QueryString(("from", p.GetValue(from)), ("to", p.GetValue(to)))), ct);
            foreach (var export in exports!["exports"]!.AsArray())
            {
                var objects = export!["objects"]!.AsArray();
                export["usage_rows"] = objects.FirstOrDefault(o => (string)o!["table"]! == "usage")?["rows"]?.DeepClone();
                export["invoice_rows"] = objects.FirstOrDefault(o => (string)o!["table"]! == "invoices")?["rows"]?.DeepClone();
            }

            return (exports, Table(exports["exports"]!.AsArray(), ["day", "usage_rows", "invoice_rows", "manifest_key", "manifest_sha256", "exported_at"]));
        }));
        var download = new Command("download", "Write a day's exported objects and manifest into a directory, each checked against the manifest's SHA-256.") { Tenant, day, directory };
        download.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var name = p.GetValue(day)!;
            var manifest = await client.GetAsync(path($"/v1/exports/{Uri.EscapeDataString(name)}"), ct);
            var target = p.GetValue(directory)!;
            target.Create();
            var written = new JsonArray();
            foreach (var entry in manifest!["objects"]!.AsArray().Append(new JsonObject { ["key"] = (string)manifest["manifest_key"]!, ["sha256"] = manifest["manifest_sha256"]!.DeepClone() }))
            {
                var file = ((string)entry!["key"]!).Split('/')[^1];
                var bytes = await client.GetBytesAsync(path($"/v1/exports/{Uri.EscapeDataString(name)}/{file}"), ct);
                if (Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)) != (string)entry["sha256"]!)
                {
                    throw new CliException($"{file} does not match the manifest's SHA-256: the download was corrupted; try again.");
                }

                await File.WriteAllBytesAsync(Path.Combine(target.FullName, file), bytes, ct);
                written.Add(new JsonObject { ["file"] = Path.Combine(target.FullName, file), ["bytes"] = bytes.Length });
            }

            return (new JsonObject { ["day"] = name, ["files"] = written }, $"Wrote {written.Count} files of {name} to {target.FullName}, each matching the manifest.");
        }));
        return new Command("exports", "Daily exports for warehouses (billing).") { list, download };
    }

    private static Command ReconcileCommand(TextWriter output)
    {
        var file = new Argument<FileInfo>("file") { Description = "The provider's cost report: OpenAI's Costs API JSON, or Anthropic's cost report as JSON or CSV (.csv)." };
        var provider = new Option<string>("--provider") { Description = "openai or anthropic.", Required = true };
        var threshold = new Option<string?>("--threshold-percent") { Description = "Flag rows whose difference is above this percentage of the provider's amount (default 0.5)." };

        var command = new Command("reconcile", "Compare a provider's cost report with what Tokage metered, per day and model (billing).") { Tenant, file, provider, threshold };
        command.SetAction((p, ct) => BillingAsync(p, output, async (client, path) =>
        {
            var report = p.GetValue(file)!;
            if (!report.Exists)
            {
                throw new CliException($"No such file: {report.FullName}.");
            }

            var query = QueryString(("provider", p.GetValue(provider)), ("threshold_percent", p.GetValue(threshold)));
            var mediaType = report.Extension.Equals(".csv", StringComparison.OrdinalIgnoreCase) ? "text/csv" : "application/json";
            var result = await client.PostFileAsync(path("/v1/reconciliations" + query), await File.ReadAllBytesAsync(report.FullName, ct), mediaType, ct);
            return (result, Text(result!, "Reconciliation {id}: {provider} {period_start} to {period_end}; the provider billed {provider_total_usd} USD, Tokage metered {tokage_total_usd} USD; {flagged_rows} of {rows_total} rows flagged (threshold {threshold_percent} %).\n")
                + Table(result!["rows"]!.AsArray(), ["day", "model", "provider_amount_usd", "tokage_amount_usd", "difference_usd", "difference_percent", "flagged", "reason"]));
        }));
        return command;
    }
}
