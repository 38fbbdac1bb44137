using System.Globalization;
using System.Text.RegularExpressions;

namespace Tokage.ClickHouseLocal.Http;

/// <summary>An error as ClickHouse's HTTP interface reports it: code, HTTP status and <c>Code: N. DB::Exception: …</c> text.</summary>
internal sealed partial record ClickHouseError(int Code, string Message)
{
    public const int AuthenticationFailed = 516;
    public const int Readonly = 164;
    public const int SyntaxError = 62;
    public const int BadArguments = 36;
    public const int UnknownSetting = 115;
    public const int NotImplemented = 48;
    public const int StdException = 1001;

    public static ClickHouseError Create(int code, string name, string text) =>
        new(code, $"Code: {code}. DB::Exception: {text.TrimEnd('.')}. ({name})");

    /// <summary>Wraps chDB's error text, which already reads <c>Code: N. DB::Exception: … (NAME)</c>.</summary>
    public static ClickHouseError FromChdb(string error)
    {
        var text = error.Trim();
        var match = CodePrefix().Match(text);
        return match.Success && int.TryParse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var code)
            ? new ClickHouseError(code, text)
            : Create(StdException, "STD_EXCEPTION", text);
    }

    /// <summary>The body ClickHouse sends: the message with the server version, and a newline.</summary>
    public string Body => (Message.Contains("(version ", StringComparison.Ordinal) ? Message : $"{Message} (version {ClickHouseLocalOptions.ChdbVersion})") + "\n";

    /// <summary>The HTTP status ClickHouse's HTTPHandler gives this code; anything else is a 500.</summary>
    public int HttpStatus => Code switch
    {
        194 or 192 or 193 or AuthenticationFailed => StatusCodes.Status401Unauthorized,
        164 or 497 => StatusCodes.Status403Forbidden,
        // Parse and argument errors: BAD_ARGUMENTS, CANNOT_PARSE_*, SYNTAX_ERROR, INCORRECT_DATA, TYPE_MISMATCH, …
        BadArguments or 6 or 25 or 26 or 27 or 38 or 41 or 72 or 427 or 441 or 675 or 676 or SyntaxError or 117 or 53 or 321 or 167 or 168 or 456
            => StatusCodes.Status400BadRequest,
        // UNKNOWN_TABLE, UNKNOWN_FUNCTION, UNKNOWN_IDENTIFIER, UNKNOWN_TYPE, UNKNOWN_STORAGE, UNKNOWN_DATABASE,
        // UNKNOWN_SETTING, UNKNOWN_AGGREGATE_FUNCTION, UNKNOWN_FORMAT, UNKNOWN_DATABASE_ENGINE
        60 or 46 or 47 or 50 or 56 or 81 or UnknownSetting or 63 or 73 or 336 => StatusCodes.Status404NotFound,
        NotImplemented => StatusCodes.Status501NotImplemented,
        159 => StatusCodes.Status408RequestTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };

    [GeneratedRegex(@"^Code:\s*(\d+)\.")]
    private static partial Regex CodePrefix();
}
