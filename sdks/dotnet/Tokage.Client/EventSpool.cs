using Google.Protobuf;
using Tokage.Contracts.V1;

namespace Tokage.Client;

/// <summary>
/// Events waiting on disk: files of length-delimited <see cref="TokenUsageEvent"/>s in one directory. Appends go to the
/// open file (<c>current.spool</c>); the sender takes the oldest sealed file (sealing the open one when it is all there
/// is), sends it, and deletes it only once all of it is in — a crash in between sends it again, and Tokage stores each
/// event id once.
/// </summary>
internal sealed class EventSpool
{
    private const string OpenFile = "current.spool";
    private readonly string directory;
    private readonly Lock gate = new();

    public EventSpool(string directory)
    {
        this.directory = directory;
        Directory.CreateDirectory(directory);
    }

    public void Append(IEnumerable<TokenUsageEvent> events)
    {
        lock (gate)
        {
            using var file = new FileStream(Path.Combine(directory, OpenFile), FileMode.Append, FileAccess.Write, FileShare.None);
            foreach (var usage in events)
            {
                usage.WriteDelimitedTo(file);
            }

            file.Flush(flushToDisk: true);
        }
    }

    /// <summary>The oldest file to send, or null when the spool is empty.</summary>
    public SpoolFile? TakeOldest()
    {
        lock (gate)
        {
            var sealedFiles = Directory.GetFiles(directory, "*.sealed").Order(StringComparer.Ordinal).ToArray();
            if (sealedFiles.Length > 0)
            {
                return new SpoolFile(sealedFiles[0]);
            }

            var open = Path.Combine(directory, OpenFile);
            if (!File.Exists(open) || new FileInfo(open).Length == 0)
            {
                return null;
            }

            // Sortable by when it was sealed, so files go in the order they were written.
            var name = Path.Combine(directory, $"{DateTime.UtcNow:yyyyMMddHHmmssfffffff}-{Guid.NewGuid():N}.sealed");
            File.Move(open, name);
            return new SpoolFile(name);
        }
    }
}

internal sealed class SpoolFile(string path)
{
    public List<TokenUsageEvent> Read()
    {
        var events = new List<TokenUsageEvent>();
        using var file = File.OpenRead(path);
        while (file.Position < file.Length)
        {
            try
            {
                events.Add(TokenUsageEvent.Parser.ParseDelimitedFrom(file));
            }
            catch (InvalidProtocolBufferException)
            {
                // A torn last write (the app died mid-append): what came before it is whole.
                break;
            }
        }

        return events;
    }

    public void Delete() => File.Delete(path);
}
