namespace Tokage.Integrations.ObjectStore;

/// <summary>
/// The object store as a directory tree (local runs): a key is a relative path under the root. A put writes a
/// temporary file beside the target, flushes it to disk, then renames it over the target (atomic on POSIX).
/// </summary>
public sealed class FileSystemObjectStore(string root) : IObjectStore
{
    private readonly string root = Path.GetFullPath(root);

    public string Root => root;

    public async Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await file.WriteAsync(content, cancellationToken);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>A read-only file (mode 0444, no write bit for anyone); the file system keeps no retention date.</summary>
    public async Task PutWriteOnceAsync(string key, ReadOnlyMemory<byte> content, DateTimeOffset retainUntil, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        if (File.Exists(path))
        {
            var existing = await File.ReadAllBytesAsync(path, cancellationToken);
            if (existing.AsSpan().SequenceEqual(content.Span))
            {
                return;
            }

            throw new IOException($"Object '{key}' is write-once and exists with other content; it is not replaced.");
        }

        await PutAsync(key, content, cancellationToken);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
        else
        {
            File.SetAttributes(path, FileAttributes.ReadOnly);
        }
    }

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        return File.Exists(path) ? await File.ReadAllBytesAsync(path, cancellationToken) : null;
    }

    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<string> keys = Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Where(p => !p.EndsWith(".tmp", StringComparison.Ordinal))
                .Select(p => Path.GetRelativePath(root, p).Replace(Path.DirectorySeparatorChar, '/'))
                .Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !k.StartsWith(".probe-", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal)
                .ToList()
            : [];
        return Task.FromResult(keys);
    }

    /// <summary>The file of a key, refusing keys that would leave the root.</summary>
    private string PathOf(string key)
    {
        if (key.Length == 0 || key.StartsWith('/') || key.Split('/').Any(part => part is "" or "." or ".."))
        {
            throw new ArgumentException($"Object key '{key}' is not a relative path of non-empty segments.", nameof(key));
        }

        return Path.Combine(root, key.Replace('/', Path.DirectorySeparatorChar));
    }
}
