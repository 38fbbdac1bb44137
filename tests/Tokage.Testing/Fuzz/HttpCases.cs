using System.Text;

namespace Tokage.Testing.Fuzz;

/// <summary>
/// What every HTTP ingestion endpoint must refuse whatever its body format: bad keys on a valid body, encodings it
/// does not speak, bodies that do not decompress, bodies (and gzip bombs) over its limit.
/// </summary>
internal static class HttpCases
{
    public const string Json = "application/json";
    public const string Protobuf = "application/x-protobuf";

    public static IReadOnlyList<FuzzHeader> Headers(string? contentType, string? contentEncoding = null, IReadOnlyList<FuzzHeader>? auth = null)
    {
        var headers = new List<FuzzHeader>(auth ?? FuzzKeys.Bearer(FuzzKeys.Valid));
        if (contentType is not null)
        {
            headers.Add(new("Content-Type", contentType));
        }

        if (contentEncoding is not null)
        {
            headers.Add(new("Content-Encoding", contentEncoding));
        }

        return headers;
    }

    /// <summary>A valid body (a new event id per <paramref name="validBody"/> call) under every way a key can be missing, malformed, forged or not allowed.</summary>
    public static IEnumerable<FuzzCase> BadKeys(string endpoint, string path, string contentType, Func<byte[]> validBody, FuzzSettings settings)
    {
        var random = FuzzBytes.RandomFor(settings.Seed, endpoint + "/keys");
        FuzzCase Case(string kind, string name, IReadOnlyList<FuzzHeader> auth, int status = 401) =>
            new(endpoint, kind, name, new HttpFuzzInput(path, validBody(), Headers(contentType, auth: auth)), FuzzExpectation.Http(status));
        IReadOnlyList<FuzzHeader> Authorization(string value) => [new("Authorization", value)];

        yield return Case("missing key", "no Authorization, no x-api-key", []);
        yield return Case("missing key", "an empty Authorization header", Authorization(""));
        yield return Case("missing key", "an empty x-api-key header", [new("x-api-key", "")]);
        yield return Case("malformed Authorization", "'Bearer' alone", Authorization("Bearer"));
        yield return Case("malformed Authorization", "'Bearer' and spaces", Authorization("Bearer    "));
        yield return Case("malformed Authorization", "Basic credentials", Authorization("Basic dXNlcjpwYXNzd29yZA=="));
        yield return Case("malformed Authorization", "the valid key under the scheme 'Token'", Authorization($"Token {FuzzKeys.Valid}"));
        yield return Case("malformed Authorization", "the valid key with no scheme", Authorization(FuzzKeys.Valid));
        yield return Case("malformed Authorization", "the valid key twice", Authorization($"Bearer {FuzzKeys.Valid}, Bearer {FuzzKeys.Valid}"));
        yield return Case("malformed Authorization", "the valid key and one character more", Authorization($"Bearer {FuzzKeys.Valid}x"));
        yield return Case("malformed Authorization", "the valid key less its last character", Authorization($"Bearer {FuzzKeys.ValidLessLastCharacter}"));
        yield return Case("malformed Authorization", "the valid key in lower case", Authorization($"Bearer {FuzzKeys.ValidLowerCase}"));
        yield return Case("malformed Authorization", "tok_live_ and 40 characters outside base62", Authorization("Bearer tok_live_" + new string('-', 40)));
        yield return Case("malformed Authorization", "tok_live_ and a 39-character secret", Authorization("Bearer " + ForgedKey(random, "tok_live_")[..^1]));
        yield return Case("malformed Authorization", "an 8,000-character bearer token", Authorization("Bearer " + RandomBase62(random, 8_000)));
        yield return Case("malformed Authorization", "tok_prod_ prefix", Authorization("Bearer tok_prod_" + RandomBase62(random, 40)));
        for (var i = 0; i < Math.Max(4, settings.RandomCasesPerKind / 4); i++)
        {
            yield return Case("forged key", $"forged tok_live_ key #{i}", Authorization("Bearer " + ForgedKey(random, "tok_live_")));
        }

        yield return Case("forged key", "forged tok_test_ key", Authorization("Bearer " + ForgedKey(random, "tok_test_")));
        yield return Case("forged key", "forged key in x-api-key", [new("x-api-key", ForgedKey(random, "tok_live_"))]);
        yield return Case("forged key", "forged Bearer key beside the valid x-api-key", [new("Authorization", "Bearer " + ForgedKey(random, "tok_live_")), new("x-api-key", FuzzKeys.Valid)]);
        yield return Case("revoked key", "a key revoked before the run", FuzzKeys.Bearer(FuzzKeys.Revoked));
        yield return Case("key without the ingest scope", "a key with the read scope only", FuzzKeys.Bearer(FuzzKeys.ReadOnly), status: 403);
    }

    /// <summary>
    /// Content codings: unknown ones (415), bodies that do not decompress (400), bombs and bodies over
    /// <paramref name="limit"/> after decompression (413). <paramref name="classify"/> says what a decoded body gets when
    /// it is not simply refused as a body (OTLP garbage may decode to an export).
    /// </summary>
    public static IEnumerable<FuzzCase> BadEncodings(
        string endpoint, string path, string contentType, Func<byte[]> validBody, Func<int, byte[]> validBodyOfAtLeast, int limit,
        Func<byte[], FuzzExpectation?> classify, FuzzSettings settings)
    {
        var random = FuzzBytes.RandomFor(settings.Seed, endpoint + "/encodings");
        FuzzCase Case(string kind, string name, byte[] body, string? encoding, FuzzExpectation expect) =>
            new(endpoint, kind, name, new HttpFuzzInput(path, body, Headers(contentType, encoding)), expect);

        foreach (var encoding in new[] { "br", "zstd", "compress", "lz4", "gzip, gzip", "gzip;q=1", "x-tokage", "*" })
        {
            yield return Case("unknown Content-Encoding", $"Content-Encoding: {encoding}", FuzzBytes.Gzip(validBody()), encoding, FuzzExpectation.Http(415));
        }

        yield return Case("gzip bomb", $"gzip of {FuzzBytes.GzipBombDecodedBytes / (1024 * 1024)} MB of zeros", FuzzBytes.GzipBomb, "gzip", FuzzExpectation.Http(413));
        yield return Case("gzip bomb", "the same bomb as x-gzip", FuzzBytes.GzipBomb, "x-gzip", FuzzExpectation.Http(413));
        yield return Case("gzip bomb", "a valid body padded just over the limit, gzipped", FuzzBytes.Gzip(validBodyOfAtLeast(limit + 1)), "gzip", FuzzExpectation.Http(413));
        yield return Case("oversized body", "a valid body padded just over the limit", validBodyOfAtLeast(limit + 1), null, FuzzExpectation.Http(413));

        // Not decompressible (the codec's own error, 400), unless the decoder makes something of it.
        byte[] gzipHeaderOnly = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];
        foreach (var (name, body, encoding, decoded) in new (string, byte[], string, Func<byte[], byte[]?>)[]
        {
            ("Content-Encoding: gzip on an uncompressed body", validBody(), "gzip", FuzzBytes.TryGunzip),
            ("Content-Encoding: deflate on a gzip body", FuzzBytes.Gzip(validBody()), "deflate", FuzzBytes.TryInflate),
            ("a gzip header and nothing else", gzipHeaderOnly, "gzip", FuzzBytes.TryGunzip),
        })
        {
            if (Decoded(decoded(body), classify) is { } expect)
            {
                yield return Case("not decompressible", name, body, encoding, expect);
            }
        }

        foreach (var i in Enumerable.Range(0, Math.Max(4, settings.RandomCasesPerKind / 4)))
        {
            var garbage = FuzzBytes.Garbage(random, 16, 4_096);
            var gzipGarbage = (byte[])garbage.Clone();
            (gzipGarbage[0], gzipGarbage[1], gzipGarbage[2]) = (0x1f, 0x8b, 0x08);
            if (Decoded(FuzzBytes.TryGunzip(gzipGarbage), classify) is { } gzipExpect)
            {
                yield return Case("not decompressible", $"gzip magic and garbage #{i}", gzipGarbage, "gzip", gzipExpect);
            }

            if (Decoded(FuzzBytes.TryInflate(garbage), classify) is { } deflateExpect)
            {
                yield return Case("deflate garbage", $"random bytes as deflate #{i}", garbage, "deflate", deflateExpect);
            }
        }

        // A valid body's gzip cut short: the decoder fails or stops early, never yielding the whole body.
        var whole = validBody();
        var zipped = FuzzBytes.Gzip(whole);
        foreach (var cut in FuzzBytes.CutPoints(zipped.Length, Math.Max(4, settings.RandomCasesPerKind / 4), random))
        {
            var truncated = zipped[..cut];
            var decoded = FuzzBytes.TryGunzip(truncated);
            if (decoded is not null && decoded.AsSpan().SequenceEqual(whole))
            {
                continue;
            }

            if (Decoded(decoded, classify) is { } expect)
            {
                yield return Case("truncated gzip", $"a valid body's gzip cut at byte {cut} of {zipped.Length}", truncated, "gzip", expect);
            }
        }

        // Double-compressed: decoded once it is gzip bytes, not the body format.
        if (classify(FuzzBytes.Gzip(whole)) is { } doubled)
        {
            yield return Case("not decompressible", "a valid body gzipped twice", FuzzBytes.Gzip(FuzzBytes.Gzip(whole)), "gzip", doubled);
        }
    }

    /// <summary>
    /// A body over Kestrel's own 30,000,000-byte request limit, which it refuses on the first read. Sent with
    /// <c>Expect: 100-continue</c>, as curl sends large bodies, so that the answer arrives before the upload would.
    /// </summary>
    public static FuzzCase OverTheServerRequestLimit(string endpoint, string path, string contentType, Func<int, byte[]> validBodyOfAtLeast) =>
        new(endpoint, "oversized body", "a 32 MiB body (over the server's request limit)",
            new HttpFuzzInput(path, validBodyOfAtLeast(32 * 1024 * 1024), [.. Headers(contentType), new("Expect", "100-continue")]), FuzzExpectation.Http(413));

    /// <summary>400 for what does not decompress; else what the decoded body gets (null: it might be valid, leave it out).</summary>
    private static FuzzExpectation? Decoded(byte[]? decoded, Func<byte[], FuzzExpectation?> classify) =>
        decoded is null ? FuzzExpectation.Http(400) : classify(decoded);

    public static string ForgedKey(Random random, string prefix) => prefix + RandomBase62(random, 40);

    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static string RandomBase62(Random random, int length)
    {
        var text = new StringBuilder(length);
        for (var i = 0; i < length; i++)
        {
            text.Append(Base62[random.Next(Base62.Length)]);
        }

        return text.ToString();
    }
}
