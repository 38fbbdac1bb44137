using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tokage.Audit;

/// <summary>
/// A sealed segment (an hour by default): JSON Lines, one per record recorded in it (in drain order), then the global
/// links appended in it, then the seal (its start and end, the counts and the global chain's head hash after it).
/// Object key <c>audit/yyyy/MM/dd/HH-mm-ss.jsonl</c> (its start, UTC), so keys sort in time order.
/// </summary>
public sealed record AuditSegment(DateTimeOffset Start, DateTimeOffset End, IReadOnlyList<AuditRecord> Records, IReadOnlyList<AuditHead> Heads)
{
    public const string Prefix = "audit/";

    public string HeadHash => Heads.Count > 0 ? Heads[^1].Hash : AuditRecord.Genesis;

    public static string KeyOf(DateTimeOffset start) => $"{Prefix}{start.UtcDateTime:yyyy'/'MM'/'dd'/'HH'-'mm'-'ss}.jsonl";

    public byte[] ToBytes()
    {
        var text = new StringBuilder();
        foreach (var record in Records)
        {
            text.Append(record.ToJson().ToJsonString()).Append('\n');
        }

        foreach (var head in Heads)
        {
            text.Append(head.ToJson().ToJsonString()).Append('\n');
        }

        var seal = new JsonObject
        {
            ["type"] = "seal",
            ["start"] = AuditHashing.Timestamp(Start),
            ["end"] = AuditHashing.Timestamp(End),
            ["records"] = Records.Count,
            ["heads"] = Heads.Count,
            ["head_hash"] = HeadHash,
        };
        text.Append(seal.ToJsonString()).Append('\n');
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>A sealed object's contents; a line that is not a record, a link or the seal is a <see cref="FormatException"/>.</summary>
    public static (AuditSegment Segment, string? SealProblem) Parse(string name, byte[] bytes)
    {
        var records = new List<AuditRecord>();
        var heads = new List<AuditHead>();
        JsonElement? seal = null;
        var lineNumber = 0;
        // A copy opened and saved in an editor may have gained a byte order mark; it is not part of any line.
        foreach (var line in Encoding.UTF8.GetString(bytes).TrimStart('\uFEFF').Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            lineNumber++;
            try
            {
                using var document = JsonDocument.Parse(line);
                var json = document.RootElement;
                switch (json.GetProperty("type").GetString())
                {
                    case "record": records.Add(AuditRecord.FromJson(json)); break;
                    case "head": heads.Add(AuditHead.FromJson(json)); break;
                    case "seal": seal = json.Clone(); break;
                    default: throw new FormatException("an unknown 'type'");
                }
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new FormatException($"{name}, line {lineNumber}: not an audit record, link or seal ({ex.Message}).", ex);
            }
        }

        var (start, end) = seal is { } s
            ? (AuditHashing.ParseTimestamp(s.GetProperty("start").GetString()!), AuditHashing.ParseTimestamp(s.GetProperty("end").GetString()!))
            : (DateTimeOffset.MinValue, DateTimeOffset.MinValue);
        var segment = new AuditSegment(start, end, records, heads);
        var problem = seal is not { } sealed_
            ? $"{name} has no seal line (it was cut short)"
            : sealed_.GetProperty("records").GetInt32() != records.Count || sealed_.GetProperty("heads").GetInt32() != heads.Count
                ? $"{name}'s seal counts {sealed_.GetProperty("records").GetInt32()} records and {sealed_.GetProperty("heads").GetInt32()} links, the object holds {records.Count} and {heads.Count}"
                : sealed_.GetProperty("head_hash").GetString() != segment.HeadHash
                    ? $"{name}'s seal names another head hash than its last link's"
                    : null;
        return (segment, problem);
    }
}

/// <summary>Verifies sealed segments alone (a directory copied out of the object store): nothing from the database.</summary>
public static class AuditArchive
{
    public static async Task<AuditVerification> VerifyDirectoryAsync(string directory, CancellationToken cancellationToken = default)
    {
        var root = Path.GetFullPath(directory);
        var files = Directory.EnumerateFiles(root, "*.jsonl", SearchOption.AllDirectories)
            .Select(path => (Name: Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/'), Path: path))
            .OrderBy(file => file.Name, StringComparer.Ordinal)
            .ToList();
        var segments = new List<(string Name, byte[] Bytes)>();
        foreach (var file in files)
        {
            segments.Add((file.Name, await File.ReadAllBytesAsync(file.Path, cancellationToken)));
        }

        return Verify(segments);
    }

    /// <summary>Segments in time order (their keys' order).</summary>
    public static AuditVerification Verify(IEnumerable<(string Name, byte[] Bytes)> objects)
    {
        var records = new List<AuditRecord>();
        var heads = new List<AuditHead>();
        AuditBreak? sealBreak = null;
        foreach (var (name, bytes) in objects)
        {
            var (segment, problem) = AuditSegment.Parse(name, bytes);
            if (problem is not null)
            {
                sealBreak ??= new AuditBreak(name, 0, null, problem);
            }

            records.AddRange(segment.Records);
            heads.AddRange(segment.Heads);
        }

        // In the order the objects hold them: a line moved within a chain is a break too.
        var verification = AuditVerifier.Verify(records, heads);
        return verification.FirstBreak is null && sealBreak is not null ? verification with { Valid = false, FirstBreak = sealBreak } : verification;
    }
}
