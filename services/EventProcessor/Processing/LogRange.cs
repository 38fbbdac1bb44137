using System.Security.Cryptography;
using System.Text;

namespace Tokage.EventProcessor.Processing;

/// <summary>
/// A name for a set of log records, from their positions: the first one, the count and a hash of them all. The same
/// records give the same name, so it serves as the ClickHouse insert's deduplication token and the archive file's
/// name; any other set of records gives another.
/// </summary>
public static class LogRange
{
    public static string Token(IReadOnlyList<string> positions)
    {
        if (positions.Count == 0)
        {
            return "empty";
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', positions)));
        var first = new StringBuilder(positions[0].Length);
        foreach (var c in positions[0])
        {
            first.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_');
        }

        return $"{first}_{positions.Count}_{Convert.ToHexStringLower(hash.AsSpan(0, 8))}";
    }
}
