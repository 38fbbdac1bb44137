using System.Buffers.Binary;
using Google.Protobuf;
using Grpc.Core;

namespace Tokage.Testing.Fuzz;

/// <summary>What every gRPC ingestion method must refuse whatever its message: keys missing, malformed, forged or not allowed, and a compressed-message bomb.</summary>
internal static class GrpcCases
{
    public static IReadOnlyList<FuzzHeader> ValidKey => [new("authorization", $"Bearer {FuzzKeys.Valid}")];

    /// <summary>A valid call (<paramref name="call"/> builds one with fresh event ids) under every way its key metadata can be wrong.</summary>
    public static IEnumerable<FuzzCase> BadKeys(string endpoint, Func<IReadOnlyList<FuzzHeader>, GrpcFuzzInput> call, FuzzSettings settings)
    {
        var random = FuzzBytes.RandomFor(settings.Seed, endpoint + "/keys");
        FuzzCase Case(string kind, string name, IReadOnlyList<FuzzHeader> metadata, StatusCode status = StatusCode.Unauthenticated) =>
            new(endpoint, kind, name, call(metadata), FuzzExpectation.Grpc(status));
        IReadOnlyList<FuzzHeader> Authorization(string value) => [new("authorization", value)];

        yield return Case("missing key", "no authorization metadata", []);
        yield return Case("missing key", "an empty authorization entry", Authorization(""));
        yield return Case("malformed Authorization", "'Bearer' alone", Authorization("Bearer"));
        yield return Case("malformed Authorization", "Basic credentials", Authorization("Basic dXNlcjpwYXNzd29yZA=="));
        yield return Case("malformed Authorization", "the valid key under the scheme 'Token'", Authorization($"Token {FuzzKeys.Valid}"));
        yield return Case("malformed Authorization", "the valid key with no scheme", Authorization(FuzzKeys.Valid));
        yield return Case("malformed Authorization", "the valid key and one character more", Authorization($"Bearer {FuzzKeys.Valid}x"));
        yield return Case("malformed Authorization", "the valid key less its last character", Authorization($"Bearer {FuzzKeys.ValidLessLastCharacter}"));
        yield return Case("malformed Authorization", "the valid key in lower case", Authorization($"Bearer {FuzzKeys.ValidLowerCase}"));
        yield return Case("malformed Authorization", "an 8,000-character bearer token", Authorization("Bearer " + HttpCases.RandomBase62(random, 8_000)));
        yield return Case("malformed Authorization", "the key in a metadata entry of another name", [new("api-key", FuzzKeys.Valid)]);
        for (var i = 0; i < Math.Max(4, settings.RandomCasesPerKind / 4); i++)
        {
            yield return Case("forged key", $"forged tok_live_ key #{i}", Authorization("Bearer " + HttpCases.ForgedKey(random, "tok_live_")));
        }

        yield return Case("forged key", "forged tok_test_ key", Authorization("Bearer " + HttpCases.ForgedKey(random, "tok_test_")));
        yield return Case("forged key", "forged key in x-api-key", [new("x-api-key", HttpCases.ForgedKey(random, "tok_live_"))]);
        yield return Case("forged key", "forged Bearer key beside the valid x-api-key", [new("authorization", "Bearer " + HttpCases.ForgedKey(random, "tok_live_")), new("x-api-key", FuzzKeys.Valid)]);
        yield return Case("revoked key", "a key revoked before the run", [new("authorization", $"Bearer {FuzzKeys.Revoked}")]);
        yield return Case("key without the ingest scope", "a key with the read scope only", [new("authorization", $"Bearer {FuzzKeys.ReadOnly}")], StatusCode.PermissionDenied);
    }

    /// <summary>
    /// One length-prefixed gRPC frame, flagged compressed, of <paramref name="compressed"/>: the library's client
    /// compresses its own messages only, so this is written by hand.
    /// </summary>
    public static byte[] CompressedFrame(byte[] compressed)
    {
        var frame = new byte[5 + compressed.Length];
        frame[0] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)compressed.Length);
        compressed.CopyTo(frame, 5);
        return frame;
    }

    /// <summary>Bombs and codecs the method must refuse before it reads any message.</summary>
    public static IEnumerable<FuzzCase> BadCompression(string endpoint, string path, byte[] validMessage)
    {
        IReadOnlyList<FuzzHeader> Headers(string encoding) => [.. ValidKey, new("grpc-encoding", encoding)];

        yield return new(endpoint, "gzip bomb", $"a message of {FuzzBytes.GzipBombDecodedBytes / (1024 * 1024)} MB of zeros, gzip-compressed",
            new RawGrpcFuzzInput(path, CompressedFrame(FuzzBytes.GzipBomb), Headers("gzip")), FuzzExpectation.Grpc(StatusCode.ResourceExhausted));
        yield return new(endpoint, "unknown grpc-encoding", "a valid message compressed with a codec the server does not have",
            new RawGrpcFuzzInput(path, CompressedFrame(FuzzBytes.Gzip(validMessage)), Headers("x-tokage")), FuzzExpectation.Grpc(StatusCode.Unimplemented));
    }

    /// <summary>One field as raw protobuf, for messages no generated type would write: its tag, a length when delimited, the payload.</summary>
    public static byte[] Field(int number, WireFormat.WireType type, ReadOnlySpan<byte> payload)
    {
        var tag = Varint(WireFormat.MakeTag(number, type));
        var length = type == WireFormat.WireType.LengthDelimited ? Varint((uint)payload.Length) : [];
        return [.. tag, .. length, .. payload];
    }

    public static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>(10);
        do
        {
            var low = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? low : (byte)(low | 0x80));
        }
        while (value != 0);

        return [.. bytes];
    }

    /// <summary>The same field number under each wire type but the right one: a parser must not read it as the field.</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> WrongWireTypes(int number)
    {
        yield return ("a varint", Field(number, WireFormat.WireType.Varint, [0x01]));
        yield return ("a fixed64", Field(number, WireFormat.WireType.Fixed64, new byte[8]));
        yield return ("a fixed32", Field(number, WireFormat.WireType.Fixed32, new byte[4]));
        yield return ("an empty group", [.. Field(number, WireFormat.WireType.StartGroup, []), .. Field(number, WireFormat.WireType.EndGroup, [])]);
    }

    /// <summary><paramref name="depth"/> unknown groups inside one another: past any parser's recursion limit.</summary>
    public static byte[] NestedGroups(int number, int depth)
    {
        var start = Field(number, WireFormat.WireType.StartGroup, []);
        var end = Field(number, WireFormat.WireType.EndGroup, []);
        var bytes = new byte[(start.Length + end.Length) * depth];
        for (var i = 0; i < depth; i++)
        {
            start.CopyTo(bytes, i * start.Length);
            end.CopyTo(bytes, bytes.Length - ((i + 1) * end.Length));
        }

        return bytes;
    }

    /// <summary>
    /// Mutations of a valid message of <paramref name="what"/> (e.g. "an export"): cuts, byte flips, garbage, and
    /// wire data no encoder writes appended to it (the common list, then <paramref name="extraMalformed"/>). Each is
    /// kept only when <paramref name="classify"/> says what it must get; null means it may still be valid, left out.
    /// </summary>
    public static IEnumerable<(string Kind, string Name, byte[] Bytes, FuzzExpectation Expect)> ProtobufMutations(
        Func<byte[]> valid, Func<byte[], FuzzExpectation?> classify, FuzzSettings settings, string endpoint, string what,
        IEnumerable<(string Name, byte[] Bytes)> extraMalformed)
    {
        // Cuts: mid-field ones do not decode; those at a field boundary decode without the later fields.
        var whole = valid();
        var truncations = FuzzBytes.RandomFor(settings.Seed, endpoint + "/truncated");
        foreach (var cut in FuzzBytes.CutPoints(whole.Length, settings.RandomCasesPerKind, truncations))
        {
            if (classify(whole[..cut]) is { } expect)
            {
                yield return ("truncated", $"the first {cut} of {whole.Length} bytes", whole[..cut], expect);
            }
        }

        var flips = FuzzBytes.RandomFor(settings.Seed, endpoint + "/flipped");
        var kept = 0;
        for (var attempt = 0; kept < settings.RandomCasesPerKind && attempt < settings.RandomCasesPerKind * 20; attempt++)
        {
            var flipped = FuzzBytes.Flip(valid(), flips);
            if (classify(flipped) is { } expect)
            {
                kept++;
                yield return ("byte flips", $"{what} with bytes flipped (#{attempt})", flipped, expect);
            }
        }

        // Random bytes sometimes decode (unknown fields are skipped); the classifier says into what.
        var garbage = FuzzBytes.RandomFor(settings.Seed, endpoint + "/garbage");
        for (var i = 0; i < settings.RandomCasesPerKind; i++)
        {
            var bytes = FuzzBytes.Garbage(garbage, 1, 2_048);
            if (classify(bytes) is { } expect)
            {
                yield return ("garbage", $"{bytes.Length} random bytes (#{i})", bytes, expect);
            }
        }

        (string Name, byte[] Bytes)[] malformed =
        [
            ("wire type 6 (does not exist)", [0x0E, 0x00]),
            ("wire type 7 (does not exist)", [0x0F, 0x00]),
            ("field number 0", [0x00, 0x00]),
            ("an end-group tag with no group", Field(1, WireFormat.WireType.EndGroup, [])),
            ("a length longer than the message", [0x0A, 0x64, 0x61, 0x62]),
            ("a length of 2^32", [0x0A, 0x80, 0x80, 0x80, 0x80, 0x10]),
            ("a varint of 11 bytes", [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            ("10,000 nested unknown groups", NestedGroups(99, 10_000)),
            .. extraMalformed,
        ];
        foreach (var (name, bytes) in malformed)
        {
            byte[] message = [.. valid(), .. bytes];
            if (classify(message) is { } expect)
            {
                yield return ("malformed protobuf", name, message, expect);
            }
        }
    }
}
