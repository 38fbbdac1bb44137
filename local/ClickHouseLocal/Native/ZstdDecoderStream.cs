using System.Runtime.InteropServices;

namespace Tokage.ClickHouseLocal.Native;

/// <summary>
/// Streaming zstd decompression through the system's libzstd (Debian/Ubuntu package libzstd1). .NET 10
/// has no zstd codec, and ClickHouse.Driver 1.5 sends bulk inserts with <c>Content-Encoding: zstd</c>.
/// </summary>
internal sealed class ZstdDecoderStream : Stream
{
    private static readonly Lazy<Api?> Library = new(Api.TryLoad);

    private readonly Stream inner;
    private readonly byte[] input;
    private nint context;
    private int inputSize;
    private int inputPos;
    private bool innerEnded;
    private bool frameOpen;

    private ZstdDecoderStream(Stream inner, nint context, int inputBufferSize)
    {
        this.inner = inner;
        this.context = context;
        input = new byte[inputBufferSize];
    }

    public static bool IsAvailable => Library.Value is not null;

    /// <summary>A decoding stream over <paramref name="inner"/> (left open), or null without libzstd.</summary>
    public static ZstdDecoderStream? TryCreate(Stream inner)
    {
        var api = Library.Value;
        if (api is null)
        {
            return null;
        }

        var context = api.CreateDStream();
        return context == 0 ? null : new ZstdDecoderStream(inner, context, (int)Math.Min(api.DStreamInSize(), 1 << 20));
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        while (true)
        {
            if (inputPos == inputSize && !innerEnded)
            {
                inputSize = inner.Read(input, 0, input.Length);
                inputPos = 0;
                innerEnded = inputSize == 0;
            }

            if (Decode(buffer, out var produced))
            {
                return produced;
            }
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (inputPos == inputSize && !innerEnded)
            {
                inputSize = await inner.ReadAsync(input, cancellationToken).ConfigureAwait(false);
                inputPos = 0;
                innerEnded = inputSize == 0;
            }

            if (Decode(buffer.Span, out var produced))
            {
                return produced;
            }
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>One decompression step; true when the read is answered (with data, or 0 at the end).</summary>
    private unsafe bool Decode(Span<byte> buffer, out int produced)
    {
        produced = 0;
        if (buffer.IsEmpty)
        {
            return true;
        }

        ObjectDisposedException.ThrowIf(context == 0, this);
        if (inputPos == inputSize && innerEnded && !frameOpen)
        {
            return true;
        }

        fixed (byte* src = input)
        fixed (byte* dst = buffer)
        {
            var inBuffer = new Buffer { Pointer = src, Size = (nuint)inputSize, Position = (nuint)inputPos };
            var outBuffer = new Buffer { Pointer = dst, Size = (nuint)buffer.Length, Position = 0 };
            var api = Library.Value!;
            var result = api.DecompressStream(context, &outBuffer, &inBuffer);
            if (api.IsError(result) != 0)
            {
                throw new InvalidDataException($"zstd: {Marshal.PtrToStringAnsi(api.GetErrorName(result))}");
            }

            inputPos = (int)inBuffer.Position;
            produced = (int)outBuffer.Position;
            // 0 means a frame just ended; another may follow in the same body.
            frameOpen = result != 0;
        }

        if (produced > 0)
        {
            return true;
        }

        if (inputPos == inputSize && innerEnded && frameOpen)
        {
            throw new InvalidDataException("The zstd body ends in the middle of a frame.");
        }

        return inputPos == inputSize && innerEnded;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        var c = Interlocked.Exchange(ref context, 0);
        if (c != 0)
        {
            Library.Value!.FreeDStream(c);
        }

        base.Dispose(disposing);
    }

    /// <summary>ZSTD_inBuffer and ZSTD_outBuffer have the same layout: pointer, size, position.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct Buffer
    {
        public byte* Pointer;
        public nuint Size;
        public nuint Position;
    }

    private sealed unsafe class Api
    {
        private delegate* unmanaged<nint> createDStream;
        private delegate* unmanaged<nint, nuint> freeDStream;
        private delegate* unmanaged<nint, Buffer*, Buffer*, nuint> decompressStream;
        private delegate* unmanaged<nuint, uint> isError;
        private delegate* unmanaged<nuint, nint> getErrorName;
        private delegate* unmanaged<nuint> dStreamInSize;

        public static Api? TryLoad()
        {
            foreach (var name in (string[])["libzstd.so.1", "libzstd.so", "libzstd.1.dylib", "libzstd.dylib"])
            {
                if (!NativeLibrary.TryLoad(name, out var library))
                {
                    continue;
                }

                if (NativeLibrary.TryGetExport(library, "ZSTD_createDStream", out var create)
                    && NativeLibrary.TryGetExport(library, "ZSTD_freeDStream", out var free)
                    && NativeLibrary.TryGetExport(library, "ZSTD_decompressStream", out var decompress)
                    && NativeLibrary.TryGetExport(library, "ZSTD_isError", out var error)
                    && NativeLibrary.TryGetExport(library, "ZSTD_getErrorName", out var errorName)
                    && NativeLibrary.TryGetExport(library, "ZSTD_DStreamInSize", out var inSize))
                {
                    return new Api
                    {
                        createDStream = (delegate* unmanaged<nint>)create,
                        freeDStream = (delegate* unmanaged<nint, nuint>)free,
                        decompressStream = (delegate* unmanaged<nint, Buffer*, Buffer*, nuint>)decompress,
                        isError = (delegate* unmanaged<nuint, uint>)error,
                        getErrorName = (delegate* unmanaged<nuint, nint>)errorName,
                        dStreamInSize = (delegate* unmanaged<nuint>)inSize,
                    };
                }
            }

            return null;
        }

        public nint CreateDStream() => createDStream();

        public void FreeDStream(nint context) => freeDStream(context);

        public nuint DecompressStream(nint context, Buffer* output, Buffer* input) => decompressStream(context, output, input);

        public uint IsError(nuint code) => isError(code);

        public nint GetErrorName(nuint code) => getErrorName(code);

        public nuint DStreamInSize() => dStreamInSize();
    }
}
