using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Tokage.ClickHouseLocal.Native;

namespace Tokage.ClickHouseLocal.Http;

/// <summary>
/// <c>GET|POST /</c> of ClickHouse's HTTP interface: SQL from the <c>query</c> parameter and/or the body,
/// <c>param_*</c> query parameters, <c>database</c>, <c>default_format</c>, settings as URL parameters.
/// </summary>
internal sealed class QueryHandler(ChdbEngine engine, IOptions<ClickHouseLocalOptions> options, ILogger<QueryHandler> logger)
{
    /// <summary>The most SQL read while looking for where INSERT data starts.</summary>
    private const int MaxHeaderBytes = 16 * 1024 * 1024;

    private const string DefaultFormat = "TabSeparated";

    // URL parameters that belong to the HTTP interface (or that this host handles itself), not settings.
    private static readonly HashSet<string> NotSettings = new(StringComparer.Ordinal)
    {
        "query", "database", "default_format", "query_id", "user", "password", "quota_key",
        "session_id", "session_timeout", "session_check", "compress", "decompress", "buffer_size",
        "wait_end_of_query", "enable_http_compression", "send_progress_in_http_headers", "role", "stacktrace",
        "client_protocol_version", "profile", "add_http_cors_header", "cancel_http_readonly_queries_on_client_close",
        // readonly would lock the pooled connection against every later SET, including the one that undoes it.
        "readonly",
    };

    private readonly ClickHouseLocalOptions settings = options.Value;
    private readonly string spoolPath = options.Value.SpoolPath is { Length: > 0 } configured
        ? configured
        : Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var parameters = await ReadParametersAsync(request, context.RequestAborted);
        var hasQuery = parameters.ContainsKey("query");

        if (!hasQuery && (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)))
        {
            // ClickHouse answers a bare GET / like /ping.
            await WriteTextAsync(response, StatusCodes.Status200OK, "Ok.\n");
            return;
        }

        var queryId = parameters.GetValueOrDefault("query_id") is { Length: > 0 } id ? id : Guid.NewGuid().ToString();
        response.Headers["X-ClickHouse-Query-Id"] = queryId;
        response.Headers["X-ClickHouse-Server-Display-Name"] = Environment.MachineName;
        response.Headers["X-ClickHouse-Timezone"] = "UTC";

        var (authError, readOnly) = Authenticate(request, parameters);
        if (authError is not null)
        {
            await WriteErrorAsync(response, authError);
            return;
        }

        if (parameters.GetValueOrDefault("compress") is "1" or "true" || parameters.GetValueOrDefault("decompress") is "1" or "true")
        {
            await WriteErrorAsync(response, ClickHouseError.Create(ClickHouseError.NotImplemented, "NOT_IMPLEMENTED",
                "ClickHouse's own block compression (compress=1, decompress=1) is not supported by the clickhouse-local host; use Content-Encoding"));
            return;
        }

        var body = IsMultipart(request) ? Stream.Null : HttpCodecs.DecodeRequest(request.Body, request.Headers.ContentEncoding);
        if (body is null)
        {
            await WriteErrorAsync(response, ClickHouseError.Create(ClickHouseError.NotImplemented, "NOT_IMPLEMENTED",
                $"Content-Encoding '{request.Headers.ContentEncoding}' is not supported by the clickhouse-local host (gzip, deflate, br, lz4, and zstd with libzstd, are)"));
            return;
        }

        await using var ownedBody = ReferenceEquals(body, request.Body) ? null : body;
        var queryParameters = parameters
            .Where(p => p.Key.StartsWith("param_", StringComparison.Ordinal) && p.Key.Length > 6)
            .Select(p => new KeyValuePair<string, string>(p.Key[6..], p.Value))
            .ToList();
        var requestSettings = parameters
            .Where(p => !NotSettings.Contains(p.Key) && !p.Key.StartsWith("param_", StringComparison.Ordinal)
                && !p.Key.StartsWith("http_", StringComparison.Ordinal) && !p.Key.StartsWith('_'))
            .ToList();
        var format = parameters.GetValueOrDefault("default_format") is { Length: > 0 } f ? f : DefaultFormat;

        var started = Stopwatch.GetTimestamp();
        var text = new SqlBuffer();
        string? spoolFile = null;
        try
        {
            ScanResult scan;
            byte[] sql;
            try
            {
                scan = await ReadStatementAsync(parameters.GetValueOrDefault("query"), body, text, context.RequestAborted);
                var notReadOnly = !readOnly ? null
                    : scan.Kind == ScanKind.InsertWithData ? "no INSERT" : InsertScanner.WhyNotReadOnly(text.Span);
                if (notReadOnly is not null)
                {
                    await WriteErrorAsync(response, ClickHouseError.Create(ClickHouseError.Readonly, "READONLY",
                        $"{settings.ReadOnlyUser}: Cannot execute query in readonly mode: this user may run {notReadOnly}"));
                    return;
                }

                if (scan.Kind == ScanKind.InsertWithData)
                {
                    spoolFile = Path.Combine(spoolPath, $"tokage-clickhouse-{Guid.NewGuid():N}.data");
                    await SpoolAsync(text.Span[scan.DataStart..].ToArray(), body, spoolFile, context.RequestAborted);
                }
            }
            catch (InvalidDataException ex)
            {
                await WriteErrorAsync(response, ClickHouseError.Create(271, "CANNOT_DECOMPRESS", $"Cannot decode the request body ({request.Headers.ContentEncoding}): {ex.Message}"));
                return;
            }

            if (spoolFile is not null)
            {
                sql = InfileInsert(text.Span, scan, spoolFile);
                format = scan.Format;
            }
            else
            {
                sql = text.Span.ToArray();
                if (sql.AsSpan().Trim(" \t\r\n;"u8).IsEmpty)
                {
                    await WriteErrorAsync(response, ClickHouseError.Create(ClickHouseError.SyntaxError, "SYNTAX_ERROR", "Empty query"));
                    return;
                }

                format = InsertScanner.OutputFormat(sql) ?? format;
                if (InsertScanner.FirstKeyword(sql) is "SET" or "USE")
                {
                    // Without a session ClickHouse forgets SET and USE with the request; here they would stick to
                    // a pooled connection and leak into other clients' requests. Settings and database belong
                    // in URL parameters.
                    logger.LogDebug("Query {QueryId}: {Statement} has no effect beyond its request; not run.", queryId, Truncate(sql));
                    await WriteResultAsync(context, parameters, null, format, TimeSpan.Zero);
                    return;
                }
            }

            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.LogDebug("Query {QueryId} ({Method}, Content-Encoding {ContentEncoding}, Accept-Encoding {AcceptEncoding}, parameters {Parameters}): {Sql}",
                    queryId, request.Method, request.Headers.ContentEncoding.ToString(), request.Headers.AcceptEncoding.ToString(),
                    string.Join(",", parameters.Keys), Truncate(sql));
            }

            ChdbResult? result = null;
            string? error;
            using (var lease = await engine.AcquireAsync(context.RequestAborted))
            {
                error = lease.Session.Prepare(parameters.GetValueOrDefault("database"), requestSettings);
                if (error is null)
                {
                    result = lease.Session.Run(sql, format, queryParameters);
                    error = result.Error;
                    if (error is not null)
                    {
                        lease.Session.Recover();
                    }
                }
            }

            using (result)
            {
                if (error is not null)
                {
                    logger.LogDebug("Query {QueryId} failed: {Error}", queryId, error);
                    await WriteErrorAsync(response, ClickHouseError.FromChdb(error));
                    return;
                }

                await WriteResultAsync(context, parameters, result, format, Stopwatch.GetElapsedTime(started));
            }
        }
        finally
        {
            if (spoolFile is not null)
            {
                File.Delete(spoolFile);
            }
        }
    }

    /// <summary>URL parameters, and the fields of a multipart form (the driver's form-data mode) on top.</summary>
    private static async Task<Dictionary<string, string>> ReadParametersAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in request.Query)
        {
            parameters[key] = value.Count > 0 ? value[^1] ?? "" : "";
        }

        if (IsMultipart(request))
        {
            var form = await request.ReadFormAsync(cancellationToken);
            foreach (var (key, value) in form)
            {
                parameters[key] = value.Count > 0 ? value[^1] ?? "" : "";
            }
        }

        return parameters;
    }

    // Only multipart bodies are forms: ClickHouse reads any other body as SQL or data whatever its Content-Type
    // (curl -d sends application/x-www-form-urlencoded).
    private static bool IsMultipart(HttpRequest request) =>
        request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>
    /// Reads the <c>query</c> parameter, a newline and the body (ClickHouse's rule) until it is known
    /// whether this is an INSERT with inline data; then either the whole statement is in <paramref name="text"/>,
    /// or the INSERT header is, followed by the first part of the data (the rest is still in <paramref name="body"/>).
    /// </summary>
    private static async Task<ScanResult> ReadStatementAsync(string? query, Stream body, SqlBuffer text, CancellationToken cancellationToken)
    {
        var queryBytes = Encoding.UTF8.GetBytes(query ?? "");
        text.Append(queryBytes);
        var bodyStarted = false;
        var complete = false;
        var chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (true)
            {
                var scan = InsertScanner.Scan(text.Span, complete);
                if (scan.Kind == ScanKind.InsertWithData)
                {
                    return scan;
                }

                if (scan.Kind == ScanKind.Plain && complete)
                {
                    return scan;
                }

                if (scan.Kind == ScanKind.NeedMore && text.Length > MaxHeaderBytes)
                {
                    scan = new ScanResult(ScanKind.Plain);
                }

                // A plain statement: the rest of the body is SQL too.
                if (scan.Kind == ScanKind.Plain || !complete)
                {
                    var read = await body.ReadAsync(chunk, cancellationToken);
                    if (read == 0)
                    {
                        complete = true;
                        continue;
                    }

                    if (!bodyStarted)
                    {
                        bodyStarted = true;
                        if (queryBytes.Length > 0)
                        {
                            text.Append("\n"u8);
                        }
                    }

                    text.Append(chunk.AsSpan(0, read));
                    if (scan.Kind == ScanKind.Plain)
                    {
                        await ReadToEndAsync(body, text, chunk, cancellationToken);
                        return scan;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private static async Task ReadToEndAsync(Stream body, SqlBuffer text, byte[] chunk, CancellationToken cancellationToken)
    {
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            text.Append(chunk.AsSpan(0, read));
        }
    }

    /// <summary>
    /// chDB cuts inline INSERT data at the first blank line ("\n\n", common in binary rows), so the data goes
    /// to a file and the statement reads it with FROM INFILE.
    /// </summary>
    private static async Task SpoolAsync(byte[] head, Stream body, string path, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
        await file.WriteAsync(head, cancellationToken);
        await body.CopyToAsync(file, 1 << 16, cancellationToken);
    }

    /// <summary><c>INSERT INTO t (cols) FROM INFILE 'path' COMPRESSION 'none' [SETTINGS …] FORMAT name</c>.</summary>
    private static byte[] InfileInsert(ReadOnlySpan<byte> text, ScanResult scan, string path)
    {
        var infile = Encoding.UTF8.GetBytes($" FROM INFILE {ChdbSession.QuoteString(path)} COMPRESSION 'none' ");
        var sql = new byte[scan.InfileAt + infile.Length + (scan.HeaderEnd - scan.InfileAt)];
        text[..scan.InfileAt].CopyTo(sql);
        infile.CopyTo(sql, scan.InfileAt);
        text[scan.InfileAt..scan.HeaderEnd].CopyTo(sql.AsSpan(scan.InfileAt + infile.Length));
        return sql;
    }

    /// <summary>
    /// Credentials as ClickHouse takes them: X-ClickHouse-User/Key headers, HTTP Basic, or user/password
    /// URL parameters; none at all means user <c>default</c> with an empty password.
    /// </summary>
    private (ClickHouseError? Error, bool ReadOnly) Authenticate(HttpRequest request, Dictionary<string, string> parameters)
    {
        string? user = request.Headers["X-ClickHouse-User"].FirstOrDefault();
        string? password = request.Headers["X-ClickHouse-Key"].FirstOrDefault();
        var authorization = request.Headers.Authorization.FirstOrDefault();
        if (user is null && password is null && authorization is not null)
        {
            if (AuthenticationHeaderValue.TryParse(authorization, out var header)
                && header.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)
                && TryDecodeBasic(header.Parameter, out var basicUser, out var basicPassword))
            {
                user = basicUser;
                password = basicPassword;
            }
            else
            {
                return (AuthenticationFailed(user ?? "default"), false);
            }
        }

        user ??= parameters.GetValueOrDefault("user");
        password ??= parameters.GetValueOrDefault("password");
        user = string.IsNullOrEmpty(user) ? "default" : user;
        password ??= "";

        if (Matches(user, password, settings.User, settings.Password))
        {
            return (null, false);
        }

        return settings.ReadOnlyPassword.Length > 0 && Matches(user, password, settings.ReadOnlyUser, settings.ReadOnlyPassword)
            ? (null, true)
            : (AuthenticationFailed(user), false);
    }

    private static bool Matches(string user, string password, string expectedUser, string expectedPassword) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(user), Encoding.UTF8.GetBytes(expectedUser))
        & CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(password), Encoding.UTF8.GetBytes(expectedPassword));

    private static ClickHouseError AuthenticationFailed(string user) => ClickHouseError.Create(
        ClickHouseError.AuthenticationFailed,
        "AUTHENTICATION_FAILED",
        $"{user}: Authentication failed: password is incorrect, or there is no user with such name");

    private static bool TryDecodeBasic(string? parameter, out string user, out string password)
    {
        user = password = "";
        if (string.IsNullOrEmpty(parameter))
        {
            return false;
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(parameter));
            var colon = decoded.IndexOf(':');
            if (colon < 0)
            {
                return false;
            }

            user = decoded[..colon];
            password = decoded[(colon + 1)..];
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static async Task WriteResultAsync(HttpContext context, Dictionary<string, string> parameters, ChdbResult? result, string format, TimeSpan elapsed)
    {
        var response = context.Response;
        var stats = result?.Statistics ?? default;
        var length = result?.Length ?? 0;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = HttpCodecs.ContentTypeFor(format);
        response.Headers["X-ClickHouse-Format"] = format;
        response.Headers["X-ClickHouse-Summary"] = Summary(stats, length, elapsed);

        if (HttpMethods.IsHead(context.Request.Method) || result is null || length == 0)
        {
            response.ContentLength = 0;
            return;
        }

        await using var data = result.OpenRead();
        var encoding = parameters.GetValueOrDefault("enable_http_compression") is "1" or "true"
            ? HttpCodecs.ChooseResponseEncoding(context.Request.Headers.AcceptEncoding)
            : null;
        if (encoding is null)
        {
            response.ContentLength = length;
            await data.CopyToAsync(response.Body, context.RequestAborted);
            return;
        }

        response.Headers.ContentEncoding = encoding;
        await using (var compressed = HttpCodecs.EncodeResponse(response.Body, encoding))
        {
            await data.CopyToAsync(compressed, context.RequestAborted);
        }
    }

    /// <summary>X-ClickHouse-Summary: ClickHouse writes every number as a JSON string.</summary>
    private static string Summary(QueryStatistics stats, long resultBytes, TimeSpan elapsed)
    {
        static string S(ulong v) => v.ToString(CultureInfo.InvariantCulture);
        var elapsedNs = (ulong)(stats.ElapsedSeconds > 0 ? stats.ElapsedSeconds * 1e9 : elapsed.TotalNanoseconds);
        return "{"
            + $"\"read_rows\":\"{S(stats.RowsRead)}\",\"read_bytes\":\"{S(stats.BytesRead)}\","
            + $"\"written_rows\":\"{S(stats.RowsWritten)}\",\"written_bytes\":\"{S(stats.BytesWritten)}\","
            + $"\"total_rows_to_read\":\"{S(stats.RowsRead)}\",\"result_rows\":\"0\",\"result_bytes\":\"{S((ulong)resultBytes)}\","
            + $"\"elapsed_ns\":\"{S(elapsedNs)}\""
            + "}";
    }

    public static async Task WriteErrorAsync(HttpResponse response, ClickHouseError error)
    {
        response.Headers["X-ClickHouse-Exception-Code"] = error.Code.ToString(CultureInfo.InvariantCulture);
        await WriteTextAsync(response, error.HttpStatus, error.Body);
    }

    private static async Task WriteTextAsync(HttpResponse response, int status, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=UTF-8";
        response.ContentLength = bytes.Length;
        await response.Body.WriteAsync(bytes);
    }

    private static string Truncate(byte[] sql)
    {
        var text = Encoding.UTF8.GetString(sql, 0, Math.Min(sql.Length, 500));
        return sql.Length > 500 ? text + "…" : text;
    }

    /// <summary>A growable byte buffer for the SQL text (and the first part of INSERT data).</summary>
    private sealed class SqlBuffer
    {
        private byte[] buffer = new byte[4096];

        public int Length { get; private set; }

        public ReadOnlySpan<byte> Span => buffer.AsSpan(0, Length);

        public void Append(ReadOnlySpan<byte> bytes)
        {
            if (Length + bytes.Length > buffer.Length)
            {
                Array.Resize(ref buffer, Math.Max(buffer.Length * 2, Length + bytes.Length));
            }

            bytes.CopyTo(buffer.AsSpan(Length));
            Length += bytes.Length;
        }
    }
}
