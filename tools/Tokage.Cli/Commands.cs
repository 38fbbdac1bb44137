using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tokage.Cli;

/// <summary>The command tree. Every command takes --url, --admin-token and --json (machine-readable output).</summary>
internal static partial class Commands
{
    private static readonly Option<string?> Url = new("--url") { Description = $"Control plane URL (default: $TOKAGE_URL, else {CliConnection.DefaultUrl}).", Recursive = true };
    private static readonly Option<string?> AdminToken = new("--admin-token") { Description = "Admin token (default: $TOKAGE_ADMIN_TOKEN, else .tokage/secrets/admin-token of the running AppHost).", Recursive = true };
    private static readonly Option<bool> Json = new("--json") { Description = "Print the API's JSON instead of text.", Recursive = true };
    private static readonly Option<string> Tenant = new("--tenant", "-t") { Description = "Tenant id or name.", Required = true };

    // Printed for people and scripts, not embedded in HTML: "+" stays "+".
    private static readonly JsonSerializerOptions PrintedJson = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static RootCommand Build(TextWriter output)
    {
        var root = new RootCommand("tokage: manage Tokage tenants, API keys, users, teams, projects, the tenants' billing, and read and verify the audit log.") { Url, BillingUrl, AuditUrl, AdminToken, Json };
        root.Subcommands.Add(TenantsCommand(output));
        root.Subcommands.Add(KeysCommand(output));
        root.Subcommands.Add(UsersCommand(output));
        root.Subcommands.Add(TeamsCommand(output));
        root.Subcommands.Add(ProjectsCommand(output));
        root.Subcommands.Add(CustomersCommand(output));
        root.Subcommands.Add(PlansCommand(output));
        root.Subcommands.Add(SubscriptionsCommand(output));
        root.Subcommands.Add(InvoicesCommand(output));
        root.Subcommands.Add(StripeCommand(output));
        root.Subcommands.Add(ExportsCommand(output));
        root.Subcommands.Add(ReconcileCommand(output));
        root.Subcommands.Add(AuditCommand(output));
        root.Subcommands.Add(DemoCommand(output));
        return root;
    }

    private static Command TenantsCommand(TextWriter output)
    {
        var name = new Argument<string>("name") { Description = "Lower-case name: a-z, 0-9, '.', '_', '-'." };
        var tenant = new Argument<string>("tenant") { Description = "Tenant id or name." };
        var plan = new Option<string?>("--plan") { Description = "Plan name (default: standard)." };
        var testMode = new Option<bool>("--test-mode") { Description = "A test-mode tenant (tok_test_ keys)." };
        var rate = new Option<int?>("--rate-limit") { Description = "Steady events per second (default 1000)." };
        var burst = new Option<int?>("--burst") { Description = "Burst size in events (default 2000)." };
        var noKey = new Option<bool>("--no-key") { Description = "Do not create the first API key." };

        var create = new Command("create", "Create a tenant and its first API key (ingest and read scopes; the key is shown once).") { name, plan, testMode, rate, burst, noKey };
        create.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            object? limit = p.GetValue(rate) is { } r ? new { events_per_second = r, burst = p.GetValue(burst) ?? Math.Max(r * 2, 1) } : null;
            var created = await client.PostAsync("/v1/tenants", new { name = p.GetValue(name), plan = p.GetValue(plan), test_mode = p.GetValue(testMode), rate_limit = limit, create_key = !p.GetValue(noKey) }, ct);
            return (created, Text(created!, "Created tenant {name} ({tenant_id}).") + (created!["api_key"] is null ? "" : Text(created, "\nAPI key (shown only now): {api_key}")));
        }));

        var list = new Command("list", "List tenants.");
        list.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var tenants = await client.GetAsync("/v1/tenants", ct);
            return (tenants, Table(tenants!["tenants"]!.AsArray(), ["tenant_id", "name", "plan", "status", "test_mode", "rate_limit.events_per_second", "created_at"]));
        }));

        var show = new Command("show", "Show a tenant.") { tenant };
        show.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var found = await client.GetAsync($"/v1/tenants/{Uri.EscapeDataString(p.GetValue(tenant)!)}", ct);
            return (found, Table(new JsonArray(found!.DeepClone()), ["tenant_id", "name", "plan", "status", "test_mode", "rate_limit.events_per_second", "rate_limit.burst", "created_at"]));
        }));

        Command Status(string verb, string description)
        {
            var command = new Command(verb, description) { tenant };
            command.SetAction((p, ct) => RunAsync(p, output, async client =>
            {
                var changed = await client.PostAsync($"/v1/tenants/{Uri.EscapeDataString(p.GetValue(tenant)!)}/{verb}", new { }, ct);
                return (changed, Text(changed!, "Tenant {name} is {status}."));
            }));
            return command;
        }

        return new Command("tenants", "Tenants.")
        {
            create, list, show,
            Status("suspend", "Suspend a tenant: its keys are refused (403) within seconds."),
            Status("activate", "Reactivate a suspended tenant."),
        };
    }

    private static Command KeysCommand(TextWriter output)
    {
        var keyId = new Argument<string>("key-id") { Description = "The key's id (see 'keys list')." };
        var name = new Option<string?>("--name") { Description = "A label for people." };
        var scopes = new Option<string[]>("--scope") { Description = "ingest, read or admin; repeat for several (default: ingest and read).", AllowMultipleArgumentsPerToken = true };
        var expires = new Option<DateTimeOffset?>("--expires-at") { Description = "When the key stops working (ISO 8601)." };
        var grace = new Option<int?>("--grace-seconds") { Description = "How long the old key keeps working (default: 86400, a day)." };

        var create = new Command("create", "Create an API key (the secret is shown once).") { Tenant, name, scopes, expires };
        create.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var requested = p.GetValue(scopes) is { Length: > 0 } s ? s : null;
            var key = await client.PostAsync($"{TenantPath(p)}/keys", new { name = p.GetValue(name), scopes = requested, expires_at = p.GetValue(expires) }, ct);
            return (key, Text(key!, "Created key {id} ({prefix}…).\nAPI key (shown only now): {api_key}"));
        }));

        var list = new Command("list", "List a tenant's keys (prefixes only; secrets are never stored).") { Tenant };
        list.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var keys = await client.GetAsync($"{TenantPath(p)}/keys", ct);
            return (keys, Table(keys!["keys"]!.AsArray(), ["id", "prefix", "name", "scopes", "status", "created_at", "last_used_at", "expires_at"]));
        }));

        var revoke = new Command("revoke", "Revoke a key: refused everywhere within seconds.") { Tenant, keyId };
        revoke.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var key = await client.PostAsync($"{TenantPath(p)}/keys/{Uri.EscapeDataString(p.GetValue(keyId)!)}/revoke", new { }, ct);
            return (key, Text(key!, "Key {id} ({prefix}…) is {status}."));
        }));

        var rotate = new Command("rotate", "Replace a key; the old one keeps working for the grace period.") { Tenant, keyId, grace };
        rotate.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var rotated = await client.PostAsync($"{TenantPath(p)}/keys/{Uri.EscapeDataString(p.GetValue(keyId)!)}/rotate", new { grace_seconds = p.GetValue(grace) }, ct);
            return (rotated, Text(rotated!["key"]!, "New key {id} ({prefix}…).\nAPI key (shown only now): {api_key}")
                + Text(rotated["previous"]!, "\nThe old key {id} works until {expires_at}."));
        }));

        return new Command("keys", "API keys.") { create, list, revoke, rotate };
    }

    private static Command UsersCommand(TextWriter output)
    {
        var userId = new Argument<string>("user-id") { Description = "The user_id your events carry." };
        var email = new Option<string?>("--email");
        var displayName = new Option<string?>("--display-name");
        var create = new Command("create", "Register a user.") { Tenant, userId, email, displayName };
        create.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var user = await client.PostAsync($"{TenantPath(p)}/users", new { user_id = p.GetValue(userId), email = p.GetValue(email), display_name = p.GetValue(displayName) }, ct);
            return (user, Text(user!, "Created user {user_id} ({id})."));
        }));
        var list = new Command("list", "List users.") { Tenant };
        list.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var users = await client.GetAsync($"{TenantPath(p)}/users", ct);
            return (users, Table(users!["users"]!.AsArray(), ["id", "user_id", "email", "display_name", "created_at"]));
        }));
        return new Command("users", "Users.") { create, list };
    }

    private static Command TeamsCommand(TextWriter output)
    {
        var name = new Argument<string>("name") { Description = "The team your events carry." };
        var team = new Argument<string>("team") { Description = "Team name or id." };
        var userId = new Argument<string>("user-id");
        var create = new Command("create", "Create a team.") { Tenant, name };
        create.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var created = await client.PostAsync($"{TenantPath(p)}/teams", new { name = p.GetValue(name) }, ct);
            return (created, Text(created!, "Created team {name} ({id})."));
        }));
        var list = new Command("list", "List teams and their members.") { Tenant };
        list.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var teams = await client.GetAsync($"{TenantPath(p)}/teams", ct);
            return (teams, Table(teams!["teams"]!.AsArray(), ["id", "name", "members", "created_at"]));
        }));
        var add = new Command("add-member", "Add a user to a team.") { Tenant, team, userId };
        add.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            await client.PostAsync($"{TenantPath(p)}/teams/{Uri.EscapeDataString(p.GetValue(team)!)}/members", new { user_id = p.GetValue(userId) }, ct);
            return (new JsonObject { ["team"] = p.GetValue(team), ["user_id"] = p.GetValue(userId), ["member"] = true }, $"{p.GetValue(userId)} is in {p.GetValue(team)}.");
        }));
        var remove = new Command("remove-member", "Remove a user from a team.") { Tenant, team, userId };
        remove.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            await client.DeleteAsync($"{TenantPath(p)}/teams/{Uri.EscapeDataString(p.GetValue(team)!)}/members/{Uri.EscapeDataString(p.GetValue(userId)!)}", ct);
            return (new JsonObject { ["team"] = p.GetValue(team), ["user_id"] = p.GetValue(userId), ["member"] = false }, $"{p.GetValue(userId)} left {p.GetValue(team)}.");
        }));
        return new Command("teams", "Teams.") { create, list, add, remove };
    }

    private static Command ProjectsCommand(TextWriter output)
    {
        var name = new Argument<string>("name") { Description = "The project your events carry." };
        var description = new Option<string?>("--description");
        var applications = new Option<string[]>("--application") { Description = "An application of the project; repeat for several.", AllowMultipleArgumentsPerToken = true };
        var create = new Command("create", "Create a project.") { Tenant, name, description, applications };
        create.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var created = await client.PostAsync($"{TenantPath(p)}/projects", new { name = p.GetValue(name), description = p.GetValue(description), applications = p.GetValue(applications) }, ct);
            return (created, Text(created!, "Created project {name} ({id})."));
        }));
        var list = new Command("list", "List projects.") { Tenant };
        list.SetAction((p, ct) => RunAsync(p, output, async client =>
        {
            var projects = await client.GetAsync($"{TenantPath(p)}/projects", ct);
            return (projects, Table(projects!["projects"]!.AsArray(), ["id", "name", "applications", "description", "created_at"]));
        }));
        return new Command("projects", "Projects and their applications.") { create, list };
    }

    private static string TenantPath(ParseResult parse) => $"/v1/tenants/{Uri.EscapeDataString(parse.GetValue(Tenant)!)}";

    /// <summary>Connects, runs, prints JSON (--json) or text; a <see cref="CliException"/> is one line on stderr and exit code 1.</summary>
    private static async Task<int> RunAsync(ParseResult parse, TextWriter output, Func<AdminApiClient, Task<(JsonNode? Json, string Text)>> action)
    {
        try
        {
            var connection = CliConnection.Resolve(parse.GetValue(Url), parse.GetValue(AdminToken), Environment.CurrentDirectory, Environment.GetEnvironmentVariable);
            using var client = new AdminApiClient(connection);
            var (json, text) = await action(client);
            await output.WriteLineAsync(parse.GetValue(Json) ? json?.ToJsonString(PrintedJson) ?? "{}" : text);
            return 0;
        }
        catch (CliException ex)
        {
            await Console.Error.WriteLineAsync($"tokage: {ex.Message}");
            return 1;
        }
    }

    /// <summary>Another service's URL: the option, else the environment variable, else the default; http(s) only.</summary>
    private static Uri ServiceAddress(string? option, string variable, string fallback, string service)
    {
        var address = option ?? Environment.GetEnvironmentVariable(variable) ?? fallback;
        return Uri.TryCreate(address, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri : throw new CliException($"'{address}' is not an http(s) URL of {service}.");
    }

    /// <summary>A tenant's id: an id as given, a name looked up in the control plane.</summary>
    private static async Task<string> TenantIdAsync(AdminApiClient controlPlane, string named, CancellationToken cancellationToken) =>
        Guid.TryParse(named, out var id) ? id.ToString()
            : (string?)(await controlPlane.GetAsync($"/v1/tenants/{Uri.EscapeDataString(named)}", cancellationToken))?["tenant_id"]
              ?? throw new CliException($"Tenant '{named}' has no id.");

    /// <summary>Fills <c>{field}</c> placeholders from a JSON object.</summary>
    private static string Text(JsonNode node, string template)
    {
        var text = new StringBuilder(template);
        foreach (var (key, value) in node.AsObject())
        {
            text.Replace("{" + key + "}", Format(value));
        }

        return text.ToString();
    }

    private static string Table(JsonArray rows, string[] columns)
    {
        if (rows.Count == 0)
        {
            return "(none)";
        }

        var cells = rows.Select(row => columns.Select(c => Format(c.Split('.').Aggregate(row, (node, part) => node?[part]))).ToArray()).ToList();
        var widths = columns.Select((c, i) => Math.Max(c.Length, cells.Max(r => r[i].Length))).ToArray();
        var lines = new List<string> { string.Join("  ", columns.Select((c, i) => c.ToUpperInvariant().PadRight(widths[i]))).TrimEnd() };
        lines.AddRange(cells.Select(r => string.Join("  ", r.Select((v, i) => v.PadRight(widths[i]))).TrimEnd()));
        return string.Join(Environment.NewLine, lines);
    }

    private static string Format(JsonNode? value) => value switch
    {
        null => "-",
        JsonArray array => string.Join(",", array.Select(Format)),
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => Convert.ToString(value.ToJsonString(), CultureInfo.InvariantCulture),
    };
}
