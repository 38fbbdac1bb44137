using System.Data.Common;
using Microsoft.Extensions.Configuration;

namespace Tokage.Integrations;

/// <summary>Settings every integration shares: where to connect, and whether to add health checks and tracing.</summary>
public abstract class IntegrationSettings
{
    public string? ConnectionString { get; set; }
    public bool DisableHealthChecks { get; set; }
    public bool DisableTracing { get; set; }
    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

internal static class IntegrationConfiguration
{
    /// <summary>
    /// Binds <c>Tokage:{component}</c>, then <c>Tokage:{component}:{connectionName}</c>; a
    /// <c>ConnectionStrings:{connectionName}</c> entry wins over both, as in Aspire's own integrations.
    /// </summary>
    public static TSettings Bind<TSettings>(IConfiguration configuration, string component, string connectionName, Action<TSettings>? configure)
        where TSettings : IntegrationSettings, new()
    {
        var settings = new TSettings();
        var section = configuration.GetSection($"Tokage:{component}");
        section.Bind(settings);
        section.GetSection(connectionName).Bind(settings);
        if (configuration.GetConnectionString(connectionName) is { Length: > 0 } connectionString)
        {
            settings.ConnectionString = connectionString;
        }

        configure?.Invoke(settings);
        if (string.IsNullOrWhiteSpace(settings.ConnectionString))
        {
            throw new InvalidOperationException(
                $"{component}: no connection string for '{connectionName}'. Set 'ConnectionStrings:{connectionName}' " +
                $"(the AppHost does this through WithReference) or 'Tokage:{component}:{connectionName}:ConnectionString'.");
        }

        return settings;
    }
}

/// <summary>Reads <c>Key=Value;…</c> connection strings the way ADO.NET does (quoting included).</summary>
public static class KeyValueConnectionString
{
    public static IReadOnlyDictionary<string, string> Parse(string connectionString)
    {
        var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string key in builder.Keys)
        {
            values[key] = Convert.ToString(builder[key]) ?? "";
        }

        return values;
    }

    public static string Required(this IReadOnlyDictionary<string, string> values, string key, string what) =>
        values.TryGetValue(key, out var value) && value.Length > 0
            ? value
            : throw new FormatException($"{what} connection string is missing '{key}='.");
}
