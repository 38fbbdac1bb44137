using System.Runtime.InteropServices;

namespace Tokage.ClickHouseLocal.Native;

/// <summary>
/// chDB's C API (programs/local/chdb.h), resolved from <c>libchdb.so</c> at run time: the library is a
/// 560 MB download that lives in a cache directory, not next to the executable.
/// </summary>
/// <remarks>
/// <c>chdb_connect</c> returns a <c>chdb_connection*</c>; queries take the <c>chdb_connection</c> it points to,
/// <c>chdb_close_conn</c> takes the pointer itself.
/// </remarks>
internal sealed unsafe class ChdbApi
{
    private readonly delegate* unmanaged<int, byte**, nint> connect;
    private readonly delegate* unmanaged<nint, void> closeConn;
    private readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nint> queryN;
    private readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, byte**, nuint*, byte**, nuint*, nuint, nint> queryWithParamsN;
    private readonly delegate* unmanaged<nint, byte*> resultBuffer;
    private readonly delegate* unmanaged<nint, nuint> resultLength;
    private readonly delegate* unmanaged<nint, byte*> resultError;
    private readonly delegate* unmanaged<nint, double> resultElapsed;
    private readonly delegate* unmanaged<nint, ulong> resultRowsRead;
    private readonly delegate* unmanaged<nint, ulong> resultBytesRead;
    private readonly delegate* unmanaged<nint, ulong> resultRowsWritten;
    private readonly delegate* unmanaged<nint, ulong> resultBytesWritten;
    private readonly delegate* unmanaged<nint, void> destroyResult;
    private readonly delegate* unmanaged<int, void> setSignalHandlersEnabled;

    private ChdbApi(nint library)
    {
        connect = (delegate* unmanaged<int, byte**, nint>)Export(library, "chdb_connect");
        closeConn = (delegate* unmanaged<nint, void>)Export(library, "chdb_close_conn");
        queryN = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nint>)Export(library, "chdb_query_n");
        queryWithParamsN = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, byte**, nuint*, byte**, nuint*, nuint, nint>)Export(library, "chdb_query_with_params_n");
        resultBuffer = (delegate* unmanaged<nint, byte*>)Export(library, "chdb_result_buffer");
        resultLength = (delegate* unmanaged<nint, nuint>)Export(library, "chdb_result_length");
        resultError = (delegate* unmanaged<nint, byte*>)Export(library, "chdb_result_error");
        resultElapsed = (delegate* unmanaged<nint, double>)Export(library, "chdb_result_elapsed");
        resultRowsRead = (delegate* unmanaged<nint, ulong>)Export(library, "chdb_result_rows_read");
        resultBytesRead = (delegate* unmanaged<nint, ulong>)Export(library, "chdb_result_bytes_read");
        resultRowsWritten = (delegate* unmanaged<nint, ulong>)Export(library, "chdb_result_rows_written");
        resultBytesWritten = (delegate* unmanaged<nint, ulong>)Export(library, "chdb_result_bytes_written");
        destroyResult = (delegate* unmanaged<nint, void>)Export(library, "chdb_destroy_query_result");
        // Since chDB 26.3; optional so an older library still loads.
        setSignalHandlersEnabled = NativeLibrary.TryGetExport(library, "chdb_set_signal_handlers_enabled", out var p)
            ? (delegate* unmanaged<int, void>)p
            : null;
    }

    public string LibraryPath { get; private init; } = "";

    public static ChdbApi Load(string path)
    {
        // The library is self-contained (statically linked ClickHouse), so no search path is needed.
        var handle = NativeLibrary.Load(path);
        return new ChdbApi(handle) { LibraryPath = path };
    }

    private static nint Export(nint library, string name) =>
        NativeLibrary.TryGetExport(library, name, out var address)
            ? address
            : throw new EntryPointNotFoundException($"libchdb.so has no export '{name}': chDB 26.5 or newer is required.");

    /// <summary>Opens a connection; returns the <c>chdb_connection*</c> or 0.</summary>
    public nint Connect(IReadOnlyList<string> args)
    {
        var handles = args.Select(a => Marshal.StringToCoTaskMemUTF8(a)).ToArray();
        try
        {
            fixed (nint* argv = handles)
            {
                return connect(handles.Length, (byte**)argv);
            }
        }
        finally
        {
            foreach (var h in handles)
            {
                Marshal.FreeCoTaskMem(h);
            }
        }
    }

    public void Close(nint connectionPointer) => closeConn(connectionPointer);

    public bool CanDisableSignalHandlers => setSignalHandlersEnabled != null;

    /// <summary>Tells chDB not to install its crash handlers (it resets the deadly signals to SIG_DFL as it does).</summary>
    public void DisableSignalHandlers()
    {
        if (setSignalHandlersEnabled != null)
        {
            setSignalHandlersEnabled(0);
        }
    }

    /// <summary>Runs one statement; the result is owned by the caller.</summary>
    public ChdbResult Query(nint connectionPointer, ReadOnlySpan<byte> query, ReadOnlySpan<byte> format, IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        var connection = *(nint*)connectionPointer;
        nint result;
        fixed (byte* q = query)
        fixed (byte* f = format)
        {
            if (parameters.Count == 0)
            {
                result = queryN(connection, q, (nuint)query.Length, f, (nuint)format.Length);
            }
            else
            {
                result = QueryWithParams(connection, q, (nuint)query.Length, f, (nuint)format.Length, parameters);
            }
        }

        return new ChdbResult(this, result);
    }

    private nint QueryWithParams(nint connection, byte* q, nuint queryLength, byte* f, nuint formatLength, IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        var count = parameters.Count;
        var names = new nint[count];
        var values = new nint[count];
        var nameLengths = new nuint[count];
        var valueLengths = new nuint[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                names[i] = Utf8Alloc(parameters[i].Key, out nameLengths[i]);
                values[i] = Utf8Alloc(parameters[i].Value, out valueLengths[i]);
            }

            fixed (nint* n = names)
            fixed (nint* v = values)
            fixed (nuint* nl = nameLengths)
            fixed (nuint* vl = valueLengths)
            {
                return queryWithParamsN(connection, q, queryLength, f, formatLength, (byte**)n, nl, (byte**)v, vl, (nuint)count);
            }
        }
        finally
        {
            foreach (var p in names)
            {
                NativeMemory.Free((void*)p);
            }

            foreach (var p in values)
            {
                NativeMemory.Free((void*)p);
            }
        }
    }

    private static nint Utf8Alloc(string value, out nuint length)
    {
        var count = System.Text.Encoding.UTF8.GetByteCount(value);
        var buffer = (byte*)NativeMemory.Alloc((nuint)Math.Max(count, 1));
        System.Text.Encoding.UTF8.GetBytes(value, new Span<byte>(buffer, count));
        length = (nuint)count;
        return (nint)buffer;
    }

    internal byte* Buffer(nint result) => resultBuffer(result);

    internal long Length(nint result) => (long)resultLength(result);

    internal string? Error(nint result)
    {
        var error = resultError(result);
        return error == null ? null : Marshal.PtrToStringUTF8((nint)error);
    }

    internal QueryStatistics Statistics(nint result) => new(
        resultRowsRead(result),
        resultBytesRead(result),
        resultRowsWritten(result),
        resultBytesWritten(result),
        resultElapsed(result));

    internal void Destroy(nint result) => destroyResult(result);
}

/// <summary>What chDB reports about a finished statement.</summary>
internal readonly record struct QueryStatistics(ulong RowsRead, ulong BytesRead, ulong RowsWritten, ulong BytesWritten, double ElapsedSeconds);

/// <summary>A materialized chDB result: the buffer stays valid until disposal, independently of the connection.</summary>
internal sealed unsafe class ChdbResult : IDisposable
{
    private readonly ChdbApi api;
    private nint handle;

    internal ChdbResult(ChdbApi api, nint handle)
    {
        this.api = api;
        this.handle = handle;
        if (handle == 0)
        {
            Error = "Code: 1001. DB::Exception: chDB returned no result. (STD_EXCEPTION)";
            return;
        }

        Error = api.Error(handle);
        Length = Error is null ? api.Length(handle) : 0;
        Statistics = api.Statistics(handle);
    }

    public string? Error { get; }

    public long Length { get; }

    public QueryStatistics Statistics { get; }

    /// <summary>A stream over the native buffer (no copy); valid until this result is disposed.</summary>
    public Stream OpenRead()
    {
        ObjectDisposedException.ThrowIf(handle == 0, this);
        if (Length == 0)
        {
            return Stream.Null;
        }

        return new UnmanagedMemoryStream(api.Buffer(handle), Length, Length, FileAccess.Read);
    }

    public void Dispose()
    {
        var h = Interlocked.Exchange(ref handle, 0);
        if (h != 0)
        {
            api.Destroy(h);
        }
    }
}
