using System.IO.Compression;
using K4os.Compression.LZ4.Streams;
using Tokage.ClickHouseLocal.Native;

namespace Tokage.ClickHouseLocal.Http;

/// <summary>
/// Request and response codecs of ClickHouse's HTTP interface: .NET's own, zstd through libzstd, and lz4
/// (the LZ4 frame format, as ClickHouse reads it) through K4os.
/// </summary>
internal static class HttpCodecs
{
    /// <summary>Decodes the request body per <c>Content-Encoding</c>; null when the encoding is not supported.</summary>
    public static Stream? DecodeRequest(Stream body, string? contentEncoding)
    {
        var encoding = (contentEncoding ?? "").Trim().ToLowerInvariant();
        return encoding switch
        {
            "" or "identity" or "none" => body,
            "gzip" or "x-gzip" => new GZipStream(body, CompressionMode.Decompress, leaveOpen: true),
            // HTTP's "deflate" is the zlib format (RFC 9110), which is also what ClickHouse reads.
            "deflate" => new ZLibStream(body, CompressionMode.Decompress, leaveOpen: true),
            "br" => new BrotliStream(body, CompressionMode.Decompress, leaveOpen: true),
            "zstd" => ZstdDecoderStream.TryCreate(body),
            "lz4" => LZ4Stream.Decode(body, leaveOpen: true),
            _ => null,
        };
    }

    /// <summary>Picks a response encoding the client accepts, in ClickHouse's order of preference; null for none.</summary>
    public static string? ChooseResponseEncoding(string? acceptEncoding)
    {
        if (string.IsNullOrEmpty(acceptEncoding))
        {
            return null;
        }

        var offered = acceptEncoding.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(e => !e.Replace(" ", "", StringComparison.Ordinal).EndsWith(";q=0", StringComparison.Ordinal))
            .Select(e => e.Split(';')[0].Trim().ToLowerInvariant())
            .ToHashSet();
        foreach (var candidate in (string[])["gzip", "deflate", "br"])
        {
            if (offered.Contains(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public static Stream EncodeResponse(Stream body, string encoding) => encoding switch
    {
        "gzip" => new GZipStream(body, CompressionLevel.Fastest, leaveOpen: true),
        "deflate" => new ZLibStream(body, CompressionLevel.Fastest, leaveOpen: true),
        "br" => new BrotliStream(body, CompressionLevel.Fastest, leaveOpen: true),
        _ => throw new ArgumentOutOfRangeException(nameof(encoding), encoding, null),
    };

    /// <summary>The Content-Type ClickHouse sends for an output format.</summary>
    public static string ContentTypeFor(string format)
    {
        if (format.StartsWith("TabSeparated", StringComparison.OrdinalIgnoreCase) || format.StartsWith("TSV", StringComparison.OrdinalIgnoreCase))
        {
            return "text/tab-separated-values; charset=UTF-8";
        }

        if (format.StartsWith("CSV", StringComparison.OrdinalIgnoreCase))
        {
            return format.Contains("Names", StringComparison.OrdinalIgnoreCase)
                ? "text/csv; charset=UTF-8; header=present"
                : "text/csv; charset=UTF-8; header=absent";
        }

        if (format.StartsWith("JSON", StringComparison.OrdinalIgnoreCase))
        {
            return "application/json; charset=UTF-8";
        }

        if (format.Equals("XML", StringComparison.OrdinalIgnoreCase))
        {
            return "application/xml; charset=UTF-8";
        }

        string[] binary = ["RowBinary", "Native", "Parquet", "Arrow", "ORC", "Avro", "Protobuf", "CapnProto", "MsgPack", "BSON", "Npy"];
        return binary.Any(b => format.StartsWith(b, StringComparison.OrdinalIgnoreCase))
            ? "application/octet-stream"
            : "text/plain; charset=UTF-8";
    }
}
