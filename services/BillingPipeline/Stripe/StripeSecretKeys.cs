using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Tokage.BillingPipeline.Stripe;

/// <summary>
/// A tenant's Stripe secret key at rest: AES-256-GCM under <see cref="StripeOptions.KeyEncryptionKey"/>, with the tenant
/// id as associated data (a row copied to another tenant does not decrypt). Stored as <c>v1:</c> + base64(nonce|tag|cipher).
/// </summary>
public sealed class StripeSecretKeys(IOptions<StripeOptions> options)
{
    private const string Version = "v1:";

    /// <summary>Why keys cannot be kept (no or a malformed encryption key), or null.</summary>
    public string? Unavailable => Key() is null
        ? $"Stripe is not available: {StripeOptions.SectionName}:KeyEncryptionKey is not set to 32 bytes in base64, so tenants' Stripe keys cannot be stored encrypted."
        : null;

    public string Protect(Guid tenant, string secretKey)
    {
        var key = Key() ?? throw new InvalidOperationException(Unavailable);
        var plain = Encoding.UTF8.GetBytes(secretKey);
        var sealedBytes = new byte[12 + 16 + plain.Length];
        RandomNumberGenerator.Fill(sealedBytes.AsSpan(0, 12));
        using var aes = new AesGcm(key, 16);
        aes.Encrypt(sealedBytes.AsSpan(0, 12), plain, sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16), tenant.ToByteArray());
        return Version + Convert.ToBase64String(sealedBytes);
    }

    public string Unprotect(Guid tenant, string stored)
    {
        var key = Key() ?? throw new InvalidOperationException(Unavailable);
        if (!stored.StartsWith(Version, StringComparison.Ordinal))
        {
            throw new CryptographicException("Not a stored Stripe key.");
        }

        var sealedBytes = Convert.FromBase64String(stored[Version.Length..]);
        var plain = new byte[sealedBytes.Length - 28];
        using var aes = new AesGcm(key, 16);
        aes.Decrypt(sealedBytes.AsSpan(0, 12), sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16), plain, tenant.ToByteArray());
        return Encoding.UTF8.GetString(plain);
    }

    private byte[]? Key()
    {
        try
        {
            var key = Convert.FromBase64String(options.Value.KeyEncryptionKey);
            return key.Length == 32 ? key : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
