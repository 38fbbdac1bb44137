using System.Text;
using System.Text.RegularExpressions;
using Tokage.ClickHouseLocal.Native;

namespace Tokage.ClickHouseLocal;

/// <summary>
/// One chDB connection. Its current database and settings outlive a statement, while an HTTP request's
/// <c>database</c> and settings must not, so the session remembers what it changed and puts it back
/// when the next request does not ask for it.
/// </summary>
internal sealed partial class ChdbSession(ChdbApi api, nint pointer)
{
    private const string DefaultDatabase = "default";

    // Settings this host fixes on every connection: the driver reads X-ClickHouse-Timezone as the
    // server's zone, so the engine must really run in UTC.
    private static readonly KeyValuePair<string, string>[] HostSettings = [new("session_timezone", "UTC")];

    private readonly Dictionary<string, string> applied = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> baseline = new(StringComparer.Ordinal);
    private string database = DefaultDatabase;
    private nint pointer = pointer;

    /// <summary>Applies the host settings and proves the connection answers; returns an error text or null.</summary>
    public string? Initialize()
    {
        var set = "SET " + string.Join(", ", HostSettings.Select(s => $"{s.Key} = {QuoteString(s.Value)}"));
        return RunAndDiscard(set) ?? RunAndDiscard("SELECT 1");
    }

    /// <summary>Makes the connection's database and settings those of the request; returns an error text or null.</summary>
    public string? Prepare(string? requestedDatabase, IReadOnlyList<KeyValuePair<string, string>> settings)
    {
        var target = string.IsNullOrEmpty(requestedDatabase) ? DefaultDatabase : requestedDatabase;
        if (!string.Equals(target, database, StringComparison.Ordinal))
        {
            var error = RunAndDiscard("USE " + QuoteIdentifier(target));
            if (error is not null)
            {
                return error;
            }

            database = target;
        }

        var requested = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in settings)
        {
            if (!SettingName().IsMatch(name))
            {
                return $"Code: 115. DB::Exception: Setting {name} is neither a builtin setting nor started with the prefix 'custom_' registered for user-defined settings. (UNKNOWN_SETTING)";
            }

            requested[name] = value;
        }

        var changes = new List<KeyValuePair<string, string>>();
        var unseen = requested.Keys.Where(k => !applied.ContainsKey(k) && !baseline.ContainsKey(k)).ToList();
        if (unseen.Count > 0)
        {
            var error = LoadBaseline(unseen);
            if (error is not null)
            {
                return error;
            }
        }

        foreach (var (name, value) in requested)
        {
            var current = applied.TryGetValue(name, out var a) ? a : baseline.GetValueOrDefault(name);
            if (!string.Equals(current, value, StringComparison.Ordinal))
            {
                changes.Add(new(name, value));
            }
        }

        foreach (var name in applied.Keys.Where(k => !requested.ContainsKey(k)).ToList())
        {
            if (baseline.TryGetValue(name, out var original))
            {
                changes.Add(new(name, original));
            }

            applied.Remove(name);
        }

        if (changes.Count == 0)
        {
            return null;
        }

        var statement = "SET " + string.Join(", ", changes.Select(c => $"{c.Key} = {QuoteString(c.Value)}"));
        var setError = RunAndDiscard(statement);
        if (setError is not null)
        {
            // Leave nothing half-applied: put each one back on its own, ignoring what still fails.
            foreach (var (name, _) in changes)
            {
                applied.Remove(name);
                if (baseline.TryGetValue(name, out var original))
                {
                    RunAndDiscard($"SET {name} = {QuoteString(original)}");
                }
            }

            Recover();
            return setError;
        }

        foreach (var (name, value) in changes)
        {
            if (baseline.TryGetValue(name, out var original) && string.Equals(original, value, StringComparison.Ordinal))
            {
                applied.Remove(name);
            }
            else
            {
                applied[name] = value;
            }
        }

        return null;
    }

    /// <summary>Runs one statement; the caller owns the result.</summary>
    public ChdbResult Run(ReadOnlySpan<byte> sql, string format, IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        ObjectDisposedException.ThrowIf(pointer == 0, this);
        Span<byte> formatBytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(format.Length)];
        var length = Encoding.UTF8.GetBytes(format, formatBytes);
        return api.Query(pointer, sql, formatBytes[..length], parameters);
    }

    /// <summary>
    /// After a failed statement chDB can hand part of that statement's output to the next one on the
    /// same connection; a throwaway statement absorbs it.
    /// </summary>
    public void Recover() => RunAndDiscard("SELECT 1");

    public void Close()
    {
        var p = pointer;
        pointer = 0;
        if (p != 0)
        {
            api.Close(p);
        }
    }

    private string? RunAndDiscard(string sql)
    {
        using var result = Run(Encoding.UTF8.GetBytes(sql), "TabSeparated", []);
        if (result.Error is null)
        {
            return null;
        }

        if (sql != "SELECT 1")
        {
            Recover();
        }

        return result.Error;
    }

    private string? LoadBaseline(IReadOnlyList<string> names)
    {
        var list = string.Join(", ", names.Select(QuoteString));
        using var result = Run(Encoding.UTF8.GetBytes($"SELECT name, value FROM system.settings WHERE name IN ({list})"), "TabSeparated", []);
        if (result.Error is not null)
        {
            Recover();
            return result.Error;
        }

        using var reader = new StreamReader(result.OpenRead(), Encoding.UTF8);
        while (reader.ReadLine() is { } line)
        {
            var tab = line.IndexOf('\t');
            if (tab > 0)
            {
                baseline[line[..tab]] = UnescapeTsv(line[(tab + 1)..]);
            }
        }

        return null;
    }

    internal static string QuoteString(string value) =>
        "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    internal static string QuoteIdentifier(string value) =>
        "`" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("`", "\\`", StringComparison.Ordinal) + "`";

    private static string UnescapeTsv(string value)
    {
        if (!value.Contains('\\', StringComparison.Ordinal))
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != '\\' || i + 1 == value.Length)
            {
                sb.Append(value[i]);
                continue;
            }

            var c = value[++i];
            sb.Append(c switch { 't' => '\t', 'n' => '\n', 'r' => '\r', '0' => '\0', _ => c });
        }

        return sb.ToString();
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex SettingName();
}
