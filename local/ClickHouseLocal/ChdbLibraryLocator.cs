namespace Tokage.ClickHouseLocal;

/// <summary>Finds <c>libchdb.so</c>: option or config, then <c>TOKAGE_CHDB_LIB</c>, then the set-up script's cache.</summary>
public static class ChdbLibraryLocator
{
    public const string EnvironmentVariable = "TOKAGE_CHDB_LIB";

    public static IReadOnlyList<string> Candidates(string? configured)
    {
        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(configured))
        {
            candidates.Add(configured);
        }

        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            candidates.Add(fromEnvironment);
        }

        var cacheHome = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrWhiteSpace(cacheHome))
        {
            cacheHome = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        }

        candidates.Add(Path.Combine(cacheHome, "tokage", "chdb", ClickHouseLocalOptions.ChdbVersion, "libchdb.so"));
        return candidates;
    }

    /// <summary>The first candidate that exists, or null; <paramref name="tried"/> lists the full paths looked at.</summary>
    public static string? Resolve(string? configured, out IReadOnlyList<string> tried)
    {
        var candidates = Candidates(configured);
        var checkedPaths = new List<string>();
        tried = checkedPaths;
        foreach (var candidate in candidates)
        {
            var full = Path.GetFullPath(candidate);
            checkedPaths.Add(full);
            if (File.Exists(full))
            {
                return full;
            }
        }

        return null;
    }
}
