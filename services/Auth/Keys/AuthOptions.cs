namespace Tokage.Auth.Keys;

/// <summary>Bound from <c>Tokage:Auth</c>.</summary>
public sealed class AuthOptions
{
    public const string SectionName = "Tokage:Auth";

    /// <summary>
    /// The key the auth service signs its Redis entries with (HMAC-SHA-256; 22+ characters). Redis never sees it, so
    /// whoever can write to Redis cannot make up an entry that resolves a key. The AppHost generates one.
    /// </summary>
    public string CacheSigningKey { get; set; } = "";

    /// <summary>As long as the secrets a manifest deployment generates (22 letters and digits, 130 bits).</summary>
    public const int MinimumSigningKeyLength = 22;

    /// <summary>How long a key's resolution stays in Redis (never past the key's own expiry).</summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long "no such key" stays in Redis, so guessing keys does not reach PostgreSQL each time.</summary>
    public TimeSpan NegativeCacheTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest a Redis call may take before the database answers instead.</summary>
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long Redis is left alone after the circuit opens.</summary>
    public TimeSpan RedisBreakDuration { get; set; } = TimeSpan.FromSeconds(5);
}
