using System.IO.Compression;
using System.Text;

namespace Tokage.Testing.Fuzz;

/// <summary>Byte-level raw material of the corpus: seeded randomness, cuts, flips, garbage, compression and its bombs.</summary>
public static class FuzzBytes
{
    /// <summary>
    /// A generator for one stream of the corpus (e.g. "POST /v1/events/truncated"): the run's seed and a stable hash of
    /// the stream's name, so adding cases to one stream never shifts the inputs of another.
    /// </summary>
    public static Random RandomFor(int seed, string stream)
    {
        // FNV-1a: string.GetHashCode is randomised per process, and the corpus must be the same in every run.
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(stream))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return new Random(seed ^ (int)hash);
    }

    /// <summary>
    /// Up to <paramref name="count"/> distinct cut points in [0, <paramref name="length"/>): the first and last few
    /// always (where parsers special-case), the rest spread at random; every one when there are fewer.
    /// </summary>
    public static IReadOnlyList<int> CutPoints(int length, int count, Random random)
    {
        if (length <= count)
        {
            return Enumerable.Range(0, length).ToList();
        }

        var points = new SortedSet<int> { 0, 1, 2, length - 2, length - 1 };
        while (points.Count < count)
        {
            points.Add(random.Next(length));
        }

        return [.. points];
    }

    /// <summary>A copy of <paramref name="source"/> with 1 to 4 bytes replaced by different random bytes.</summary>
    public static byte[] Flip(byte[] source, Random random)
    {
        var copy = (byte[])source.Clone();
        var flips = random.Next(1, 5);
        for (var i = 0; i < flips; i++)
        {
            var at = random.Next(copy.Length);
            copy[at] ^= (byte)random.Next(1, 256);
        }

        return copy;
    }

    public static byte[] Garbage(Random random, int minLength, int maxLength)
    {
        var bytes = new byte[random.Next(minLength, maxLength + 1)];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Byte sequences no UTF-8 decoder may accept, by what is wrong with them.</summary>
    public static IReadOnlyList<(string Name, byte[] Bytes)> InvalidUtf8 { get; } =
    [
        ("lone continuation byte", [0x80]),
        ("0xFF", [0xFF]),
        ("truncated 2-byte sequence", [0xC3, 0x28]),
        ("truncated 3-byte sequence", [0xE2, 0x82]),
        ("overlong '/'", [0xC0, 0xAF]),
        ("UTF-16 surrogate encoded", [0xED, 0xA0, 0x80]),
        ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
        ("5-byte sequence", [0xF8, 0x88, 0x80, 0x80, 0x80]),
    ];

    /// <summary><paramref name="source"/> with every occurrence of the ASCII <paramref name="marker"/> replaced by <paramref name="replacement"/>.</summary>
    public static byte[] Replace(byte[] source, string marker, ReadOnlySpan<byte> replacement)
    {
        var needle = Encoding.ASCII.GetBytes(marker);
        var output = new List<byte>(source.Length + replacement.Length);
        var span = source.AsSpan();
        int at;
        while ((at = span.IndexOf(needle)) >= 0)
        {
            output.AddRange(span[..at]);
            output.AddRange(replacement);
            span = span[(at + needle.Length)..];
        }

        output.AddRange(span);
        return [.. output];
    }

    public static byte[] Gzip(ReadOnlySpan<byte> data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return buffer.ToArray();
    }

    /// <summary>HTTP's "deflate" coding is the zlib format (RFC 9110 §8.4.1.2).</summary>
    public static byte[] Zlib(ReadOnlySpan<byte> data)
    {
        using var buffer = new MemoryStream();
        using (var zlib = new ZLibStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(data);
        }

        return buffer.ToArray();
    }

    /// <summary>Size of what <see cref="GzipBomb"/> decompresses to.</summary>
    public const int GzipBombDecodedBytes = 200 * 1024 * 1024;

    private static readonly Lazy<byte[]> Bomb = new(() =>
    {
        // Streamed a megabyte at a time: 200 MB of zeros never sit in memory, and they compress to about 200 KB.
        var zeros = new byte[1024 * 1024];
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (var written = 0; written < GzipBombDecodedBytes; written += zeros.Length)
            {
                gzip.Write(zeros);
            }
        }

        return buffer.ToArray();
    });

    /// <summary>Gzip of 200 MB of zeros, built once per process.</summary>
    public static byte[] GzipBomb => Bomb.Value;

    /// <summary>What a zlib ("deflate") body decodes to with .NET's decoder (the service's), or null when it does not decode.</summary>
    public static byte[]? TryInflate(byte[] zlib) => TryDecode(new ZLibStream(new MemoryStream(zlib), CompressionMode.Decompress));

    /// <summary>What a gzip body decodes to with .NET's decoder (the service's), or null when it does not decode.</summary>
    public static byte[]? TryGunzip(byte[] gzip) => TryDecode(new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress));

    private static byte[]? TryDecode(Stream decoder)
    {
        try
        {
            using var input = decoder;
            using var output = new MemoryStream();
            input.CopyTo(output);
            return output.ToArray();
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            // Corrupt data is InvalidDataException, but zlib's rarer failures are ZLibException (an IOException):
            // either way the body does not decompress, and the service must say so.
            return null;
        }
    }
}
