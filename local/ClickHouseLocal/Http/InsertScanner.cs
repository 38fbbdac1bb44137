using System.Text;

namespace Tokage.ClickHouseLocal.Http;

/// <summary>What the start of a request's SQL turned out to be.</summary>
internal enum ScanKind
{
    /// <summary>A statement to hand to chDB as it is.</summary>
    Plain,

    /// <summary><c>INSERT … FORMAT name</c> followed by data.</summary>
    InsertWithData,

    /// <summary>The text read so far ends before the answer is known.</summary>
    NeedMore,
}

/// <summary>
/// <see cref="ScanKind.InsertWithData"/>: <c>[0, InfileAt)</c> is <c>INSERT INTO t (cols)</c>, <c>[InfileAt, HeaderEnd)</c>
/// is <c>[SETTINGS …] FORMAT name</c>, data starts at <c>DataStart</c>.
/// </summary>
internal readonly record struct ScanResult(ScanKind Kind, int InfileAt = 0, int HeaderEnd = 0, int DataStart = 0, string Format = "");

/// <summary>
/// A small lexer over the raw request bytes (the data after the header is binary and is never lexed):
/// finds where inline INSERT data starts, skipping strings, quoted identifiers, comments and parentheses.
/// </summary>
internal static class InsertScanner
{
    private enum TokenKind
    {
        Word,
        Quoted,
        Punctuation,
        End,
        Unterminated,
    }

    private readonly record struct Token(TokenKind Kind, int Start, int End);

    public static ScanResult Scan(ReadOnlySpan<byte> text, bool complete)
    {
        var pos = 0;
        var first = Next(text, ref pos);
        if (first.Kind == TokenKind.Word && first.End == text.Length && !complete)
        {
            return new(ScanKind.NeedMore);
        }

        if (first.Kind != TokenKind.Word || !Is(text, first, "INSERT"))
        {
            return Unfinished(first, complete) ? new(ScanKind.NeedMore) : new(ScanKind.Plain);
        }

        // INSERT INTO [TABLE] name: skip the table name so a table called `format` is not the keyword.
        var save = pos;
        var token = Next(text, ref pos);
        if (token.Kind == TokenKind.Word && Is(text, token, "INTO"))
        {
            save = pos;
            token = Next(text, ref pos);
            if (token.Kind == TokenKind.Word && Is(text, token, "TABLE"))
            {
                save = pos;
                token = Next(text, ref pos);
            }

            if (token.Kind == TokenKind.Word && Is(text, token, "FUNCTION"))
            {
                pos = save;
            }
            else if (token.Kind is TokenKind.Word or TokenKind.Quoted)
            {
                save = pos;
                var dot = Next(text, ref pos);
                if (dot.Kind == TokenKind.Punctuation && text[dot.Start] == (byte)'.')
                {
                    Next(text, ref pos);
                }
                else
                {
                    pos = save;
                }
            }
            else
            {
                pos = save;
            }
        }
        else
        {
            pos = save;
        }

        var depth = 0;
        var settingsAt = -1;
        while (true)
        {
            token = Next(text, ref pos);
            switch (token.Kind)
            {
                case TokenKind.End or TokenKind.Unterminated:
                    return complete ? new(ScanKind.Plain) : new(ScanKind.NeedMore);
                case TokenKind.Punctuation when text[token.Start] == (byte)'(':
                    depth++;
                    continue;
                case TokenKind.Punctuation when text[token.Start] == (byte)')':
                    depth--;
                    continue;
                case TokenKind.Word when depth == 0:
                    break;
                default:
                    continue;
            }

            if (Is(text, token, "SETTINGS") && settingsAt < 0)
            {
                settingsAt = token.Start;
            }
            else if (Is(text, token, "FORMAT"))
            {
                var name = Next(text, ref pos);
                if (name.Kind != TokenKind.Word)
                {
                    return Unfinished(name, complete) ? new(ScanKind.NeedMore) : new(ScanKind.Plain);
                }

                // As ClickHouse's parser: skip blanks after the format name, then at most one line break.
                var data = name.End;
                while (data < text.Length && text[data] is (byte)' ' or (byte)'\t' or (byte)'\f')
                {
                    data++;
                }

                if (data < text.Length && text[data] == (byte)'\r')
                {
                    data++;
                }

                if (data < text.Length && text[data] == (byte)'\n')
                {
                    data++;
                }

                if (data == text.Length && !complete)
                {
                    return new(ScanKind.NeedMore);
                }

                if (data < text.Length && text[data] == (byte)';' && data == name.End)
                {
                    return new(ScanKind.Plain);
                }

                var format = Encoding.ASCII.GetString(text[name.Start..name.End]);
                return new(ScanKind.InsertWithData, settingsAt >= 0 ? settingsAt : token.Start, name.End, data, format);
            }
            else if (Is(text, token, "VALUES") || Is(text, token, "SELECT") || Is(text, token, "WITH") || Is(text, token, "INFILE"))
            {
                // VALUES stays inline: its rows may hold {name:Type} parameters that only the parser resolves.
                return new(ScanKind.Plain);
            }
        }
    }

    /// <summary>The statement's first keyword, upper-cased (comments skipped), or null.</summary>
    public static string? FirstKeyword(ReadOnlySpan<byte> text)
    {
        var pos = 0;
        var token = Next(text, ref pos);
        return token.Kind == TokenKind.Word ? Encoding.UTF8.GetString(text[token.Start..token.End]).ToUpperInvariant() : null;
    }

    private static readonly HashSet<string> ReadStatements = new(StringComparer.OrdinalIgnoreCase) { "SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN" };

    // Table functions that reach outside the database (files, URLs, other servers, programs): a server's reader has
    // no grant for them, and here they would run with the host process's own rights.
    private static readonly HashSet<string> OutsideTableFunctions = new(StringComparer.OrdinalIgnoreCase)
    {
        "file", "url", "urlCluster", "s3", "s3Cluster", "gcs", "azureBlobStorage", "hdfs", "remote", "remoteSecure", "cluster", "clusterAllReplicas",
        "mysql", "postgresql", "mongodb", "redis", "sqlite", "odbc", "jdbc", "executable", "input", "fileCluster", "iceberg", "deltaLake", "hudi",
        "icebergLocal", "icebergS3", "icebergAzure", "icebergHDFS", "icebergCluster", "icebergS3Cluster", "deltaLakeLocal", "deltaLakeCluster",
        "hudiCluster", "hdfsCluster", "azureBlobStorageCluster", "arrowFlight", "arrowflight", "ytsaurus", "paimon", "paimonS3", "paimonLocal",
        "gcsCluster", "s3queue", "azureQueue", "timeSeriesData", "prometheusQuery",
    };

    /// <summary>
    /// Why a read-only user may not run <paramref name="text"/>, or null when it only reads: one statement that starts
    /// with SELECT, WITH, SHOW, DESCRIBE, EXISTS or EXPLAIN and calls no table function that reaches outside the database.
    /// </summary>
    public static string? WhyNotReadOnly(ReadOnlySpan<byte> text)
    {
        // ClickHouse nests block comments and has $$-quoted strings, which this lexer does not follow: a reader's SQL
        // (generated by the query API, values in parameters) needs neither, so neither is allowed.
        if (text.IndexOf("/*"u8) >= 0 || text.IndexOf((byte)'$') >= 0)
        {
            return "no block comments and no $-quoted strings";
        }

        var pos = 0;
        var first = Next(text, ref pos);
        if (first.Kind != TokenKind.Word || !ReadStatements.Contains(Encoding.UTF8.GetString(text[first.Start..first.End])))
        {
            return "only SELECT, WITH, SHOW, DESCRIBE, EXISTS and EXPLAIN statements";
        }

        var previous = first;
        while (true)
        {
            var token = Next(text, ref pos);
            switch (token.Kind)
            {
                case TokenKind.End:
                    return null;
                case TokenKind.Unterminated:
                    return "an unterminated string or comment";
                case TokenKind.Punctuation when text[token.Start] == (byte)';':
                    return Next(text, ref pos).Kind == TokenKind.End ? null : "one statement per request";
                case TokenKind.Punctuation when text[token.Start] == (byte)'(' && previous.Kind == TokenKind.Word
                    && OutsideTableFunctions.Contains(Encoding.UTF8.GetString(text[previous.Start..previous.End])):
                    return $"no table function that reaches outside the database ({Encoding.UTF8.GetString(text[previous.Start..previous.End])})";
                case TokenKind.Punctuation when text[token.Start] == (byte)'(' && previous.Kind == TokenKind.Quoted && text[previous.Start] is (byte)'`' or (byte)'"':
                    return "no quoted function names";
                case TokenKind.Word when Is(text, token, "OUTFILE") && previous.Kind == TokenKind.Word && Is(text, previous, "INTO"):
                    return "no INTO OUTFILE";
            }

            previous = token;
        }
    }

    /// <summary>The output format named by a top-level <c>FORMAT</c> clause, if any.</summary>
    public static string? OutputFormat(ReadOnlySpan<byte> text)
    {
        var pos = 0;
        var depth = 0;
        string? format = null;
        while (true)
        {
            var token = Next(text, ref pos);
            switch (token.Kind)
            {
                case TokenKind.End or TokenKind.Unterminated:
                    return format;
                case TokenKind.Punctuation when text[token.Start] == (byte)'(':
                    depth++;
                    break;
                case TokenKind.Punctuation when text[token.Start] == (byte)')':
                    depth--;
                    break;
                case TokenKind.Word when depth == 0 && Is(text, token, "FORMAT"):
                    var name = Next(text, ref pos);
                    if (name.Kind == TokenKind.Word)
                    {
                        format = Encoding.ASCII.GetString(text[name.Start..name.End]);
                    }

                    break;
            }
        }
    }

    private static bool Unfinished(Token token, bool complete) =>
        !complete && token.Kind is TokenKind.End or TokenKind.Unterminated;

    private static bool Is(ReadOnlySpan<byte> text, Token token, string keyword) =>
        token.End - token.Start == keyword.Length && Ascii.EqualsIgnoreCase(text[token.Start..token.End], keyword);

    private static Token Next(ReadOnlySpan<byte> text, ref int pos)
    {
        while (pos < text.Length)
        {
            var c = text[pos];
            if (c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\f' or (byte)'\v')
            {
                pos++;
            }
            else if (c == (byte)'-' && pos + 1 < text.Length && text[pos + 1] == (byte)'-' || c == (byte)'#')
            {
                var end = text[pos..].IndexOf((byte)'\n');
                if (end < 0)
                {
                    pos = text.Length;
                    return new(TokenKind.Unterminated, pos, pos);
                }

                pos += end + 1;
            }
            else if (c == (byte)'/' && pos + 1 < text.Length && text[pos + 1] == (byte)'*')
            {
                var end = text[(pos + 2)..].IndexOf("*/"u8);
                if (end < 0)
                {
                    pos = text.Length;
                    return new(TokenKind.Unterminated, pos, pos);
                }

                pos += end + 4;
            }
            else
            {
                break;
            }
        }

        if (pos >= text.Length)
        {
            return new(TokenKind.End, pos, pos);
        }

        var start = pos;
        var first = text[pos];
        if (first is (byte)'\'' or (byte)'"' or (byte)'`')
        {
            pos++;
            while (pos < text.Length)
            {
                var c = text[pos++];
                if (c == (byte)'\\')
                {
                    pos++;
                }
                else if (c == first)
                {
                    // A doubled quote is an escaped quote.
                    if (pos < text.Length && text[pos] == first)
                    {
                        pos++;
                        continue;
                    }

                    return new(TokenKind.Quoted, start, pos);
                }
            }

            pos = text.Length;
            return new(TokenKind.Unterminated, start, pos);
        }

        if (IsWordByte(first))
        {
            while (pos < text.Length && IsWordByte(text[pos]))
            {
                pos++;
            }

            return new(TokenKind.Word, start, pos);
        }

        pos++;
        return new(TokenKind.Punctuation, start, pos);
    }

    private static bool IsWordByte(byte c) =>
        c is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'_' or >= 0x80;
}
