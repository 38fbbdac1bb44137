using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace Tokage.Analytics.Schema;

/// <summary>
/// One versioned schema step: an embedded <c>NNNN_name.sql</c> file whose statements each end with a
/// semicolon at the end of a line. Every statement is idempotent (<c>IF NOT EXISTS</c>), so a step cut off
/// half-way, or run by two replicas at once, converges when it runs again.
/// </summary>
public sealed record Migration(int Version, string Name, IReadOnlyList<string> Statements, string Checksum)
{
    private const string ResourcePrefix = "Tokage.Analytics.Migrations.";

    /// <summary>Every migration shipped in this assembly, in version order.</summary>
    public static IReadOnlyList<Migration> All { get; } = Load(typeof(Migration).Assembly);

    public static int LatestVersion => All[^1].Version;

    internal static IReadOnlyList<Migration> Load(Assembly assembly)
    {
        var migrations = assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith(ResourcePrefix, StringComparison.Ordinal) && name.EndsWith(".sql", StringComparison.Ordinal))
            .Select(name =>
            {
                using var stream = assembly.GetManifestResourceStream(name)!;
                using var reader = new StreamReader(stream, Encoding.UTF8);
                return Parse(name[ResourcePrefix.Length..^4], reader.ReadToEnd());
            })
            .OrderBy(m => m.Version)
            .ToList();

        var repeated = migrations.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
        {
            throw new InvalidOperationException($"Two analytics migrations share version {repeated.Key}: {string.Join(", ", repeated.Select(m => m.Name))}.");
        }

        return migrations;
    }

    internal static Migration Parse(string fileName, string text)
    {
        var underscore = fileName.IndexOf('_');
        if (underscore <= 0 || !int.TryParse(fileName[..underscore], out var version))
        {
            throw new FormatException($"Analytics migration '{fileName}.sql' must be named NNNN_name.sql.");
        }

        var normalised = text.Replace("\r\n", "\n", StringComparison.Ordinal);
        var statements = new List<string>();
        var current = new StringBuilder();
        foreach (var line in normalised.Split('\n'))
        {
            if (current.Length == 0 && (line.TrimStart().StartsWith("--", StringComparison.Ordinal) || string.IsNullOrWhiteSpace(line)))
            {
                continue;
            }

            current.Append(line).Append('\n');
            if (line.TrimEnd().EndsWith(';'))
            {
                statements.Add(current.ToString().TrimEnd().TrimEnd(';'));
                current.Clear();
            }
        }

        if (current.ToString().Trim().Length > 0)
        {
            throw new FormatException($"Analytics migration '{fileName}.sql' ends with a statement that has no closing semicolon.");
        }

        var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalised)));
        return new Migration(version, fileName[(underscore + 1)..], statements, checksum);
    }
}
