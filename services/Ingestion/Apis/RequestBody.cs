using System.IO.Compression;

namespace Tokage.Ingestion.Apis;

/// <summary>Reads a request body (gzip or deflate encoded, or not) up to a limit on its decoded size.</summary>
internal static class RequestBody
{
    public sealed class TooLargeException(int limit) : Exception($"The body is larger than {limit:N0} bytes (after decompression).")
    {
        public int Limit { get; } = limit;
    }

    public sealed class UnsupportedEncodingException(string encoding) : Exception($"Content-Encoding '{encoding}' is not supported (gzip, deflate or none).");

    public static async Task<byte[]> ReadAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        var encoding = request.Headers.ContentEncoding.ToString().Trim().ToLowerInvariant();
        await using var decoded = encoding switch
        {
            "" or "identity" => null,
            "gzip" or "x-gzip" => new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true),
            "deflate" => (Stream)new ZLibStream(request.Body, CompressionMode.Decompress, leaveOpen: true),
            _ => throw new UnsupportedEncodingException(encoding),
        };
        var source = decoded ?? request.Body;

        // Never more than limit + 1 bytes in memory, so a gzip bomb stops at the limit.
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        try
        {
            while ((read = await source.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > limit)
                {
                    throw new TooLargeException(limit);
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own request limit (a Content-Length above it): the same answer, with a message, not its bare 413.
            throw new TooLargeException(limit);
        }
        catch (IOException ex) when (decoded is not null && ex.GetType().FullName == "System.IO.Compression.ZLibException")
        {
            // Corrupt deflate data is usually InvalidDataException, but some is zlib's own error, an internal
            // IOException subtype (matched by name; other IOExceptions are the connection's): the same body that does
            // not decompress, so the same answer.
            throw new InvalidDataException(ex.Message, ex);
        }

        return buffer.ToArray();
    }
}
