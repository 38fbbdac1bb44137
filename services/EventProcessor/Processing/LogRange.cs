using System.Security.Cryptography;
using System.Text;

namespace Tokage.EventProcessor.Processing;

/// <summary>
/// A name for a set of log records, from their positions and what they hold: the first position, the count and a hash
/// of them all. The same records give the same name, so it serves as the ClickHouse insert's deduplication token and
/// the archive file's name; any other set of records gives another, even at the same positions of a log started again.
/// </summary>
public static class LogRange
{
    /// <param name="positions">Where the batch's records sit in the log.</param>
    /// <param name="contents">What they are (tenant and event id): positions alone repeat when a log starts again (a topic
    /// recreated, a new cluster), and ClickHouse would drop a new batch at old positions as a repeat of the old one.</param>
    public static string Token(IReadOnlyList<string> positions, IEnumerable<string> contents)
    {
        if (positions.Count == 0)
        {
            return "empty";
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', positions) + "\n\n" + string.Join('\n', contents)));
        var first = new StringBuilder(positions[0].Length);
        foreach (var c in positions[0])
        {
            first.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_');
        }

        return $"{first}_{positions.Count}_{Convert.ToHexStringLower(hash.AsSpan(0, 8))}";
    }
}
