using Npgsql;

namespace Tokage.Testing;

/// <summary>
/// The database migrator as the AppHost runs it: a process given the owner's connection string and each role's
/// password, which migrates and exits. Services then connect as the roles, never as the owner.
/// </summary>
public static class DatabaseMigratorProcess
{
    public const string AppRole = "tokage_app";
    public const string AppRolePassword = "app-role-pw-4f1c";
    public const string PricesRole = "tokage_prices";
    public const string PricesRolePassword = "prices-role-pw-8a2d";
    public const string AuditRole = "tokage_audit";
    public const string AuditRolePassword = "audit-role-pw-3e9b";

    /// <summary>The migrator's environment for <paramref name="database"/> on <paramref name="postgres"/>.</summary>
    public static Dictionary<string, string> Environment(PostgresProcess postgres, string database) => new()
    {
        ["ConnectionStrings__tokage"] = postgres.ConnectionString(database),
        ["Tokage__Database__AppRolePassword"] = AppRolePassword,
        ["Tokage__Database__PricesRolePassword"] = PricesRolePassword,
        ["Tokage__Database__AuditRolePassword"] = AuditRolePassword,
        ["DOTNET_ENVIRONMENT"] = "Production",
    };

    /// <summary>Runs the migrator to its end; throws with its output unless it exits 0.</summary>
    public static async Task<string> RunAsync(PostgresProcess postgres, string database, IReadOnlyDictionary<string, string>? settings = null)
    {
        var (exitCode, output) = await RunForExitCodeAsync(Environment(postgres, database).Concat(settings ?? new Dictionary<string, string>())
            .GroupBy(e => e.Key).ToDictionary(g => g.Key, g => g.Last().Value));
        return exitCode == 0 ? output : throw new InvalidOperationException($"The database migrator exited with {exitCode}:\n{output}");
    }

    /// <summary>Runs the migrator with exactly <paramref name="environment"/>; its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunForExitCodeAsync(IReadOnlyDictionary<string, string> environment)
    {
        await using var process = ChildProcess.Start("dotnet", [TestAssets.Path("DatabaseMigrator")], environment);
        var exitCode = await process.WaitForExitAsync("the database migrator", TimeSpan.FromMinutes(3));
        return (exitCode, process.Output);
    }

    /// <summary>How a service connects as <paramref name="role"/> (a password from this class).</summary>
    public static string ConnectionString(PostgresProcess postgres, string database, string role) =>
        new NpgsqlConnectionStringBuilder(postgres.ConnectionString(database))
        {
            Username = role,
            Password = role switch
            {
                AppRole => AppRolePassword,
                PricesRole => PricesRolePassword,
                AuditRole => AuditRolePassword,
                _ => throw new ArgumentException($"No such role: {role}.", nameof(role)),
            },
        }.ConnectionString;
}
