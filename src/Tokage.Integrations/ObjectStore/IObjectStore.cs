namespace Tokage.Integrations.ObjectStore;

/// <summary>
/// The object store (Parquet archive, audit records): whole objects under '/'-separated keys. A put replaces
/// the object atomically — readers see the old object or the new one, never part of one — so writing the same
/// key twice with the same content is idempotent.
/// </summary>
public interface IObjectStore
{
    Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes an object no one may change or delete before <paramref name="retainUntil"/>: on S3, Object Lock in
    /// COMPLIANCE mode with that retention (the bucket must have Object Lock enabled); on a file system, a read-only file
    /// that is never replaced. Writing the same bytes again is a no-op; other bytes under the key are refused.
    /// </summary>
    Task PutWriteOnceAsync(string key, ReadOnlyMemory<byte> content, DateTimeOffset retainUntil, CancellationToken cancellationToken = default);

    /// <summary>The object's bytes, or null when there is none under <paramref name="key"/>.</summary>
    Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Every key that starts with <paramref name="prefix"/>, in ordinal order.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default);
}
