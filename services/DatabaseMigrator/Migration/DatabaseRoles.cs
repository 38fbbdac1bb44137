using System.Text.RegularExpressions;

namespace Tokage.DatabaseMigrator.Migration;

/// <summary>
/// The login roles the services connect as (<c>Tokage:Database</c>), each with a password the deployment gives both
/// the migrator and that role's services. None owns a table or may bypass Row-Level Security.
/// </summary>
public sealed partial class DatabaseRoles
{
    public const string SectionName = "Tokage:Database";

    public const string ValidationMessage =
        $"{SectionName}: every role needs a lower-case SQL identifier and a password (AppRolePassword, PricesRolePassword, " +
        "AuditRolePassword; the AppHost generates them, a deployment sets Tokage__Database__… from its secrets).";

    /// <summary>Control plane, auth, query API and billing: tenant-owned tables under RLS.</summary>
    public string AppRole { get; set; } = "tokage_app";

    public string? AppRolePassword { get; set; }

    /// <summary>The price registry: reads and appends price versions, nothing else.</summary>
    public string PricesRole { get; set; } = "tokage_prices";

    public string? PricesRolePassword { get; set; }

    /// <summary>The audit log: reads the outbox, inserts and reads the chains and the sealed segments; nothing more.</summary>
    public string AuditRole { get; set; } = "tokage_audit";

    public string? AuditRolePassword { get; set; }

    public IEnumerable<(string Role, string Password)> All =>
        [(AppRole, AppRolePassword!), (PricesRole, PricesRolePassword!), (AuditRole, AuditRolePassword!)];

    /// <summary>What is wrong with the configuration, or null.</summary>
    public string? Problem()
    {
        foreach (var (role, password) in All)
        {
            if (!RoleName().IsMatch(role ?? ""))
            {
                return $"role '{role}' is not a lower-case SQL identifier";
            }

            if (string.IsNullOrEmpty(password))
            {
                return $"role '{role}' has no password";
            }
        }

        return All.Select(r => r.Role).Distinct().Count() == 3 ? null : "the three roles must differ";
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex RoleName();
}
