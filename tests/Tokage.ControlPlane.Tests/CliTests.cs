using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tokage.ApiKeys;
using Tokage.Contracts.V1;

namespace Tokage.ControlPlane.Tests;

/// <summary>The tokage CLI as a user runs it, against the running control plane and auth service.</summary>
[Collection(ControlPlaneCollection.Name)]
public sealed class CliTests(ControlPlaneStack stack)
{
    private string[] Flags => ["--url", stack.ControlPlane.HttpUri.ToString(), "--admin-token", ControlPlaneStack.AdminToken];

    [Fact]
    public async Task TenantsCreateJsonGivesATenantIdAndAWorkingKey()
    {
        var result = await CliProcess.RunAsync(["tenants", "create", "cli-acme", "--json", .. Flags]);
        Assert.True(result.ExitCode == 0, result.Stderr);

        var created = JsonNode.Parse(result.Stdout)!;
        var key = (string)created["api_key"]!;
        Assert.Matches("^tok_live_", key);
        var resolved = await stack.AuthClient.ResolveKeyAsync(new ResolveKeyRequest { Key = key });
        Assert.Equal((string)created["tenant_id"]!, resolved.TenantId);
        Assert.Equal(["ingest", "read"], resolved.Scopes);
    }

    [Fact]
    public async Task DemoMakesATenantWithItsUsageAndAnOwnerWhoSignsInAndARerunKeepsThePassword()
    {
        var ingestion = await stack.StartIngestionAsync();
        var before = Tokage.Demo.DemoUsage.Generate(DateTimeOffset.UtcNow).Count();
        var first = await CliProcess.RunAsync(["demo", "--name", "cli-demo", "--email", "demo@cli.example", "--ingest-url", ingestion.HttpUri.ToString(), "--json", .. Flags]);
        Assert.True(first.ExitCode == 0, first.Stderr);
        var demo = JsonNode.Parse(first.Stdout)!;
        // Every event accepted (the window is the 30 days before the hour the CLI ran in).
        Assert.Contains((int)demo["events_accepted"]!, new[] { before, Tokage.Demo.DemoUsage.Generate(DateTimeOffset.UtcNow).Count() });
        var password = (string)demo["password"]!;

        using var anonymous = new HttpClient { BaseAddress = stack.ControlPlane.HttpUri };
        using (var signIn = await anonymous.PostAsJsonAsync("/v1/auth/sign-in", new { email = "demo@cli.example", password }))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, signIn.StatusCode);
            Assert.Equal("owner", (string)JsonNode.Parse(await signIn.Content.ReadAsStringAsync())!["member"]!["role"]!);
        }

        // The seeding key is revoked, the budget is there, and a second run changes neither the tenant nor the password.
        var keys = await stack.GetAsync($"/v1/tenants/{(string)demo["tenant_id"]!}/keys");
        Assert.All(keys["keys"]!.AsArray(), k => Assert.Equal("revoked", (string)k!["status"]!));
        Assert.Equal("demo-monthly", (string)(await stack.GetAsync($"/v1/tenants/{(string)demo["tenant_id"]!}/budgets"))["budgets"]![0]!["name"]!);
        var second = await CliProcess.RunAsync(["demo", "--name", "cli-demo", "--email", "demo@cli.example", "--ingest-url", ingestion.HttpUri.ToString(), "--json", .. Flags]);
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Equal((string)demo["tenant_id"]!, (string)JsonNode.Parse(second.Stdout)!["tenant_id"]!);
        Assert.Null(JsonNode.Parse(second.Stdout)!["password"]);
    }

    [Fact]
    public async Task WithoutFlagsItFindsTheUrlAndTheTokenOfTheLocalRun()
    {
        // As the AppHost leaves it: .tokage/secrets/admin-token at the checkout's root; the CLI runs in a subdirectory.
        var checkout = Directory.CreateTempSubdirectory("tokage-cli-");
        try
        {
            Directory.CreateDirectory(Path.Combine(checkout.FullName, ".tokage", "secrets"));
            await File.WriteAllTextAsync(Path.Combine(checkout.FullName, ".tokage", "secrets", "admin-token"), ControlPlaneStack.AdminToken + "\n");
            var subdirectory = Directory.CreateDirectory(Path.Combine(checkout.FullName, "services", "Ingestion"));
            var environment = new Dictionary<string, string?> { ["TOKAGE_URL"] = stack.ControlPlane.HttpUri.ToString() };

            var created = await CliProcess.RunAsync(["tenants", "create", "cli-found"], subdirectory.FullName, environment);
            Assert.True(created.ExitCode == 0, created.Stderr);
            Assert.Contains("Created tenant cli-found", created.Stdout);
            Assert.Matches("API key \\(shown only now\\): tok_live_[0-9A-Za-z]{40}", created.Stdout);

            var list = await CliProcess.RunAsync(["tenants", "list"], subdirectory.FullName, environment);
            Assert.True(list.ExitCode == 0, list.Stderr);
            Assert.Contains("cli-found", list.Stdout);
        }
        finally
        {
            checkout.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task KeysUsersTeamsAndProjectsEndToEnd()
    {
        Assert.Equal(0, (await CliProcess.RunAsync(["tenants", "create", "cli-ops", "--no-key", .. Flags])).ExitCode);

        var key = JsonNode.Parse((await CliProcess.RunAsync(["keys", "create", "--tenant", "cli-ops", "--name", "ci", "--scope", "ingest", "--json", .. Flags])).Stdout)!;
        Assert.Equal(["ingest"], key["scopes"]!.AsArray().Select(s => (string)s!));
        var caller = await stack.NewCallerResolverAsync(TimeSpan.FromMinutes(5));
        Assert.Equal(KeyResolutionStatus.Valid, (await caller.ResolveAsync((string)key["api_key"]!)).Status);

        var listed = await CliProcess.RunAsync(["keys", "list", "-t", "cli-ops", .. Flags]);
        Assert.Contains((string)key["prefix"]!, listed.Stdout);
        Assert.DoesNotContain((string)key["api_key"]!, listed.Stdout);

        var rotated = JsonNode.Parse((await CliProcess.RunAsync(["keys", "rotate", "-t", "cli-ops", (string)key["id"]!, "--grace-seconds", "600", "--json", .. Flags])).Stdout)!;
        var replacement = (string)rotated["key"]!["api_key"]!;
        Assert.Equal(KeyResolutionStatus.Valid, (await caller.ResolveAsync(replacement)).Status);

        var revoke = await CliProcess.RunAsync(["keys", "revoke", "-t", "cli-ops", (string)key["id"]!, .. Flags]);
        Assert.Contains("is revoked", revoke.Stdout);
        await ControlPlaneStack.EventuallyAsync(async () => (await caller.ResolveAsync((string)key["api_key"]!)).Status == KeyResolutionStatus.Invalid,
            TimeSpan.FromSeconds(5), "the key revoked through the CLI refused");

        Assert.Equal(0, (await CliProcess.RunAsync(["users", "create", "-t", "cli-ops", "u-1", "--email", "u1@example.com", .. Flags])).ExitCode);
        Assert.Equal(0, (await CliProcess.RunAsync(["teams", "create", "-t", "cli-ops", "platform", .. Flags])).ExitCode);
        Assert.Equal(0, (await CliProcess.RunAsync(["teams", "add-member", "-t", "cli-ops", "platform", "u-1", .. Flags])).ExitCode);
        var teams = JsonNode.Parse((await CliProcess.RunAsync(["teams", "list", "-t", "cli-ops", "--json", .. Flags])).Stdout)!;
        Assert.Equal("u-1", (string)teams["teams"]![0]!["members"]![0]!);
        Assert.Equal(0, (await CliProcess.RunAsync(["projects", "create", "-t", "cli-ops", "helpdesk", "--application", "bot", "--application", "web", .. Flags])).ExitCode);
        var projects = JsonNode.Parse((await CliProcess.RunAsync(["projects", "list", "-t", "cli-ops", "--json", .. Flags])).Stdout)!;
        Assert.Equal(["bot", "web"], projects["projects"]![0]!["applications"]!.AsArray().Select(a => (string)a!));

        var suspended = await CliProcess.RunAsync(["tenants", "suspend", "cli-ops", .. Flags]);
        Assert.Contains("is suspended", suspended.Stdout);
        await ControlPlaneStack.EventuallyAsync(async () => (await caller.ResolveAsync(replacement)).Status == KeyResolutionStatus.Suspended,
            TimeSpan.FromSeconds(5), "the suspended tenant's key denied");
    }

    [Fact]
    public async Task FailuresAreOneClearLineAndExitCodeOne()
    {
        var duplicate = await CliProcess.RunAsync(["tenants", "create", "cli-twice", .. Flags]);
        Assert.Equal(0, duplicate.ExitCode);
        var again = await CliProcess.RunAsync(["tenants", "create", "cli-twice", .. Flags]);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("409", again.Stderr);
        Assert.Contains("exists already", again.Stderr);

        var invalid = await CliProcess.RunAsync(["tenants", "create", "Bad Name", .. Flags]);
        Assert.Equal(1, invalid.ExitCode);
        Assert.Contains("'name' must be", invalid.Stderr);

        var wrongToken = await CliProcess.RunAsync(["tenants", "list", "--url", stack.ControlPlane.HttpUri.ToString(), "--admin-token", "wrong-token"]);
        Assert.Equal(1, wrongToken.ExitCode);
        Assert.Contains("401", wrongToken.Stderr);

        var noServer = await CliProcess.RunAsync(["tenants", "list", "--url", $"http://127.0.0.1:{ChildProcess.FreePort()}", "--admin-token", "x"]);
        Assert.Equal(1, noServer.ExitCode);
        Assert.Contains("Cannot reach the control plane", noServer.Stderr);

        var noToken = await CliProcess.RunAsync(["tenants", "list", "--url", stack.ControlPlane.HttpUri.ToString()], Path.GetTempPath());
        Assert.Equal(1, noToken.ExitCode);
        Assert.Contains("No admin token", noToken.Stderr);

        var missingTenant = await CliProcess.RunAsync(["keys", "list", .. Flags]);
        Assert.NotEqual(0, missingTenant.ExitCode);
        Assert.Contains("--tenant", missingTenant.Stderr + missingTenant.Stdout);
    }
}
