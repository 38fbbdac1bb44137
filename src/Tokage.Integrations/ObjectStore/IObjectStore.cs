namespace Tokage.Integrations.ObjectStore;

/// <summary>
/// The object store (Parquet archive, audit records): whole objects under '/'-separated keys. A put replaces
/// the object atomically — readers see the old object or the new one, never part of one — so writing the same
/// key twice with the same content is idempotent.
/// </summary>
public interface IObjectStore
{
    Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default);

    /// <summary>The object's bytes, or null when there is none under <paramref name="key"/>.</summary>
    Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Every key that starts with <paramref name="prefix"/>, in ordinal order.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default);
}
