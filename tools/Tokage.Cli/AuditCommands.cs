using System.CommandLine;
using System.Text.Json.Nodes;
using Tokage.Audit;

namespace Tokage.Cli;

/// <summary>
/// The audit log: <c>tokage audit list</c> and <c>tokage audit verify</c> through audit-log's API (<c>--audit-url</c>, else
/// <c>$TOKAGE_AUDIT_URL</c>, else http://localhost:8065) with the admin token, or <c>verify --from-archive DIR</c>
/// from sealed objects alone (no service, no database: anyone holding a copy can check it).
/// </summary>
internal static partial class Commands
{
    public const string DefaultAuditUrl = "http://localhost:8065";

    /// <summary>The exit code of a verification that found a broken link (1 is for errors).</summary>
    public const int BrokenChainExitCode = 2;

    private static readonly Option<string?> AuditUrl = new("--audit-url") { Description = $"Audit log URL (default: $TOKAGE_AUDIT_URL, else {DefaultAuditUrl}).", Recursive = true };

    private static Command AuditCommand(TextWriter output)
    {
        var tenant = new Option<string?>("--tenant", "-t") { Description = "One tenant's records (an id or name; 'platform': public prices). Default: every tenant." };
        var kind = new Option<string?>("--kind") { Description = "A kind ('key.revoked') or a resource ('key')." };
        var actor = new Option<string?>("--actor") { Description = "A member's or key's id, or operator, service, member, key." };
        var from = new Option<string?>("--from") { Description = "From this time (ISO 8601)." };
        var to = new Option<string?>("--to") { Description = "Before this time (ISO 8601)." };
        var limit = new Option<int?>("--limit") { Description = "At most this many records (default 100, at most 1000)." };
        var list = new Command("list", "List audit records, oldest first.") { tenant, kind, actor, from, to, limit };
        list.SetAction((p, ct) => AuditAsync(p, output, async (client, controlPlane) =>
        {
            var query = new List<string>();
            if (await TenantQueryAsync(controlPlane, p.GetValue(tenant), ct) is { } named)
            {
                query.Add("tenant=" + Uri.EscapeDataString(named));
            }

            foreach (var (name, value) in new[] { ("kind", p.GetValue(kind)), ("actor", p.GetValue(actor)), ("from", p.GetValue(from)), ("to", p.GetValue(to)), ("limit", p.GetValue(limit)?.ToString()) })
            {
                if (value is not null)
                {
                    query.Add($"{name}={Uri.EscapeDataString(value)}");
                }
            }

            var page = await client.GetAsync("/v1/audit" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), ct);
            return (page, Table(page!["records"]!.AsArray(), ["id", "occurred_at", "tenant_id", "kind", "subject", "actor_type", "actor_id"]));
        }));

        var archive = new Option<string?>("--from-archive") { Description = "Verify the sealed objects in this directory alone (a copy of the object store's audit/ folder, or its root)." };
        var verify = new Command("verify", $"Recompute the hash chains and name the first broken link (exit code {BrokenChainExitCode} when one is broken).") { tenant, archive };
        verify.SetAction(async (p, ct) =>
        {
            if (p.GetValue(archive) is { } directory)
            {
                if (!Directory.Exists(directory))
                {
                    await Console.Error.WriteLineAsync($"tokage: '{directory}' is not a directory.");
                    return 1;
                }

                AuditVerification result;
                try
                {
                    result = await AuditArchive.VerifyDirectoryAsync(directory, ct);
                }
                catch (FormatException ex)
                {
                    await Console.Error.WriteLineAsync($"tokage: {ex.Message}");
                    return BrokenChainExitCode;
                }

                var json = result.ToJson();
                await output.WriteLineAsync(p.GetValue(Json) ? json.ToJsonString(PrintedJson) : Summary(json, $"sealed objects in {directory}"));
                return result.Valid ? 0 : BrokenChainExitCode;
            }

            var valid = true;
            var code = await AuditAsync(p, output, async (client, controlPlane) =>
            {
                var named = await TenantQueryAsync(controlPlane, p.GetValue(tenant), ct);
                var answer = await client.GetAsync("/v1/audit/verify" + (named is null ? "" : "?tenant=" + Uri.EscapeDataString(named)), ct);
                valid = answer?["valid"]?.GetValue<bool>() == true;
                return (answer, Summary(answer!, "the database"));
            });
            return code == 0 && !valid ? BrokenChainExitCode : code;
        });

        return new Command("audit", "Read and verify the audit log.") { list, verify };
    }

    private static string Summary(JsonNode answer, string source) => answer["first_break"] is JsonObject broken
        ? $"BROKEN ({source}): chain {broken["chain"]}, at {broken["seq"]}{(broken["record_id"] is { } id ? $" (record id {id})" : "")}: {broken["reason"]}"
        : $"Valid ({source}): {answer["records"]} records in {answer["chains"]} chains, {answer["links"]} global links.";

    /// <summary>The tenant's id for <c>?tenant=</c> (a name is looked up in the control plane), 'platform', or null for all.</summary>
    private static async Task<string?> TenantQueryAsync(AdminApiClient controlPlane, string? named, CancellationToken ct) =>
        named is null or "platform" ? named : await TenantIdAsync(controlPlane, named, ct);

    /// <summary>Runs a call on the audit log's API as the operator; the action also gets the control plane (to look tenants up).</summary>
    private static Task<int> AuditAsync(ParseResult parse, TextWriter output, Func<AdminApiClient, AdminApiClient, Task<(JsonNode? Json, string Text)>> action) =>
        RunAsync(parse, output, async controlPlane =>
        {
            var url = ServiceAddress(parse.GetValue(AuditUrl), "TOKAGE_AUDIT_URL", DefaultAuditUrl, "the audit log");
            var connection = CliConnection.Resolve(parse.GetValue(Url), parse.GetValue(AdminToken), Environment.CurrentDirectory, Environment.GetEnvironmentVariable);
            using var audit = new AdminApiClient(connection with { Url = url }, "the audit log");
            return await action(audit, controlPlane);
        });
}
