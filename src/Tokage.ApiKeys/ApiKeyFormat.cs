using System.Security.Cryptography;
using System.Text;

namespace Tokage.ApiKeys;

/// <summary>
/// Keys are <c>tok_live_</c> (or <c>tok_test_</c> for test-mode tenants) followed by 40 random base62
/// characters (≈238 bits). Only the SHA-256 of the whole key is stored; the first characters after the
/// mode are the prefix people recognise a key by.
/// </summary>
public static class ApiKeyFormat
{
    public const string LivePrefix = "tok_live_";
    public const string TestPrefix = "tok_test_";
    public const int SecretLength = 40;

    /// <summary>Characters of the secret shown in listings, after the mode (e.g. <c>tok_live_AbC123xy</c>).</summary>
    public const int VisibleSecretCharacters = 8;

    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static string Generate(bool testMode) =>
        (testMode ? TestPrefix : LivePrefix) + RandomNumberGenerator.GetString(Base62, SecretLength);

    /// <summary>Whether the text has the shape of a key; anything else is refused without a lookup.</summary>
    public static bool LooksValid(string? key)
    {
        if (key is null || key.Length != LivePrefix.Length + SecretLength
            || !(key.StartsWith(LivePrefix, StringComparison.Ordinal) || key.StartsWith(TestPrefix, StringComparison.Ordinal)))
        {
            return false;
        }

        foreach (var c in key.AsSpan(LivePrefix.Length))
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public static string HashHex(string key) => Convert.ToHexStringLower(Hash(key));

    public static string VisiblePrefix(string key) => key[..(LivePrefix.Length + VisibleSecretCharacters)];
}

/// <summary>The Redis names the control plane, the auth service and the callers agree on.</summary>
public static class ApiKeyCache
{
    /// <summary>Pub/sub channel: each message is the hex SHA-256 of a key whose resolution changed (revoked, rotated, tenant changed).</summary>
    public const string InvalidationChannel = "tokage:apikeys:invalidated";

    /// <summary>The auth service's cached resolution of a key (signed by the auth service; see its KeyCache).</summary>
    public static string EntryKey(string hashHex) => $"tokage:apikey:{hashHex}";

    /// <summary>
    /// What the control plane writes over a changed key's entry (not a delete): the auth service caches only where no
    /// entry is (SET NX), so a resolution it read from PostgreSQL before the change cannot be cached after it.
    /// </summary>
    public const string Tombstone = "changed";

    /// <summary>How long a tombstone lives: longer than any entry the auth service caches (its CacheTtl).</summary>
    public static readonly TimeSpan TombstoneTtl = TimeSpan.FromSeconds(60);
}
