using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The database role the services run as: it owns no table and cannot bypass Row-Level Security, so the
/// database itself keeps tenants apart. The connection string names the owner (who migrates); services swap in
/// this role's credentials.
/// </summary>
public sealed class DatabaseRoleOptions
{
    public const string SectionName = "Tokage:Database";

    public string AppRole { get; set; } = "tokage_app";

    /// <summary>The application role's password; the control plane sets it on the role when it migrates.</summary>
    public string? AppRolePassword { get; set; }

    /// <summary>The connection string with the application role's credentials instead of the owner's.</summary>
    public string AppConnectionString(string ownerConnectionString)
    {
        if (string.IsNullOrEmpty(AppRolePassword))
        {
            throw new InvalidOperationException(
                $"'{SectionName}:AppRolePassword' is not set: the services connect as the '{AppRole}' role, which needs a password " +
                "(the AppHost generates one; in a deployment, set Tokage__Database__AppRolePassword).");
        }

        return new NpgsqlConnectionStringBuilder(ownerConnectionString) { Username = AppRole, Password = AppRolePassword }.ConnectionString;
    }

    public static DatabaseRoleOptions From(IConfiguration configuration) =>
        configuration.GetSection(SectionName).Get<DatabaseRoleOptions>() ?? new DatabaseRoleOptions();
}

public static class PostgresExtensions
{
    /// <summary>Aspire's Npgsql data source for <paramref name="connectionName"/>, connecting as the application role.</summary>
    public static void AddAppRoleDataSource(this IHostApplicationBuilder builder, string connectionName)
    {
        var role = DatabaseRoleOptions.From(builder.Configuration);
        builder.AddNpgsqlDataSource(connectionName, settings => settings.ConnectionString = role.AppConnectionString(
            settings.ConnectionString ?? throw new InvalidOperationException($"No connection string for '{connectionName}'.")));
    }
}
