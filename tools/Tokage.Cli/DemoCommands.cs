using System.CommandLine;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Tokage.Demo;

namespace Tokage.Cli;

/// <summary>
/// <c>tokage demo</c> (what <c>./run.sh --demo</c> runs once the AppHost is up): a demo tenant with an owner who can sign
/// in to the console, and 30 days of usage sent through the public ingest API with a key of the tenant's own (revoked
/// afterwards). Run again, it stores nothing twice (the events' ids are fixed) and keeps the owner's password.
/// </summary>
internal static partial class Commands
{
    public const string DefaultIngestUrl = "http://localhost:8080";

    private static Command DemoCommand(TextWriter output)
    {
        var tenantName = new Option<string>("--name") { Description = "The demo tenant's name.", DefaultValueFactory = _ => "demo" };
        var email = new Option<string>("--email") { Description = "The demo owner's e-mail (signs in to the console).", DefaultValueFactory = _ => "demo@tokage.local" };
        var ingestUrl = new Option<string?>("--ingest-url") { Description = $"Ingestion URL (default: $TOKAGE_INGEST_URL, else {DefaultIngestUrl})." };
        var command = new Command("demo", "Create a demo tenant with 30 days of usage and an owner who signs in to the console.") { tenantName, email, ingestUrl };
        command.SetAction((parse, cancellationToken) => RunAsync(parse, output, async controlPlane =>
        {
            var name = parse.GetValue(tenantName)!;
            var owner = parse.GetValue(email)!;
            var tenant = await FindOrCreateTenantAsync(controlPlane, name, cancellationToken);
            var tenantId = (string)tenant["tenant_id"]!;

            var key = await controlPlane.PostAsync($"/v1/tenants/{tenantId}/keys", new { name = "demo-seed", scopes = new[] { "ingest" } }, cancellationToken);
            var accepted = 0;
            try
            {
                var connection = CliConnection.Resolve(parse.GetValue(Url), parse.GetValue(AdminToken), Environment.CurrentDirectory, Environment.GetEnvironmentVariable);
                var ingestAddress = parse.GetValue(ingestUrl) ?? Environment.GetEnvironmentVariable("TOKAGE_INGEST_URL") ?? DefaultIngestUrl;
                using var ingest = new AdminApiClient(connection with { Url = new Uri(ingestAddress), AdminToken = (string)key!["api_key"]! }, "ingestion");
                var events = DemoUsage.Generate(DateTimeOffset.UtcNow).ToList();
                foreach (var batch in events.Chunk(DemoUsage.BatchSize))
                {
                    accepted += await SendDemoBatchAsync(ingest, batch, cancellationToken);
                    await Console.Error.WriteLineAsync($"tokage: demo events sent {Math.Min(accepted, events.Count):N0} of {events.Count:N0}");
                }
            }
            finally
            {
                await controlPlane.PostAsync($"/v1/tenants/{tenantId}/keys/{(string)key!["id"]!}/revoke", new { }, cancellationToken);
            }

            try
            {
                await controlPlane.PostAsync($"/v1/tenants/{tenantId}/budgets", DemoUsage.Budget, cancellationToken);
            }
            catch (CliException ex) when (ex.Status == HttpStatusCode.Conflict)
            {
                // Made by an earlier run.
            }

            var password = await JoinOwnerAsync(controlPlane, tenantId, owner, cancellationToken);
            var signIn = password is null
                ? $"Sign in as {owner} with the password printed the first time (or reset it from the sign-in page; the link lands in .tokage/mail/)."
                : $"Sign in as {owner} with the password {password}";
            var result = new JsonObject { ["tenant_id"] = tenantId, ["name"] = name, ["events_accepted"] = accepted, ["email"] = owner, ["password"] = password };
            return (result, $"Demo tenant '{name}' ({tenantId}): {accepted:N0} events accepted.\nConsole: http://localhost:8050 — {signIn}");
        }));
        return command;
    }

    private static async Task<JsonNode> FindOrCreateTenantAsync(AdminApiClient controlPlane, string name, CancellationToken cancellationToken)
    {
        try
        {
            return (await controlPlane.GetAsync($"/v1/tenants/{Uri.EscapeDataString(name)}", cancellationToken))!;
        }
        catch (CliException ex) when (ex.Status == HttpStatusCode.NotFound)
        {
            return (await controlPlane.PostAsync("/v1/tenants", new { name, create_key = false }, cancellationToken))!;
        }
    }

    /// <summary>Invites the owner and accepts the invitation with a new password (returned); null when the owner had joined before.</summary>
    private static async Task<string?> JoinOwnerAsync(AdminApiClient controlPlane, string tenantId, string email, CancellationToken cancellationToken)
    {
        JsonNode invited;
        try
        {
            invited = (await controlPlane.PostAsync($"/v1/tenants/{tenantId}/members", new { email, role = "owner" }, cancellationToken))!;
        }
        catch (CliException ex) when (ex.Status == HttpStatusCode.Conflict)
        {
            var members = await controlPlane.GetAsync($"/v1/tenants/{tenantId}/members", cancellationToken);
            var member = members!["members"]!.AsArray().FirstOrDefault(m => string.Equals((string?)m!["email"], email, StringComparison.OrdinalIgnoreCase))
                ?? throw new CliException($"'{email}' is a member of another tenant: pass another --email.");
            if ((string?)member["status"] == "active")
            {
                return null;
            }

            invited = (await controlPlane.PostAsync($"/v1/tenants/{tenantId}/members/{(string)member["id"]!}/invitation", new { }, cancellationToken))!;
        }

        var link = new Uri((string)invited["invitation_url"]!);
        var query = System.Web.HttpUtility.ParseQueryString(link.Query);
        var password = "demo-" + RandomNumberGenerator.GetString("abcdefghijkmnpqrstuvwxyz23456789", 16);
        await controlPlane.PostAsync("/v1/auth/invitations/accept", new { member_id = query["member"], token = query["token"], password }, cancellationToken);
        return password;
    }

    private static async Task<int> SendDemoBatchAsync(AdminApiClient ingest, Dictionary<string, object?>[] batch, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return (int?)(await ingest.PostAsync("/v1/events/batch", new { events = batch }, cancellationToken))?["accepted"] ?? 0;
            }
            catch (CliException ex) when (ex.Status is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }
}
