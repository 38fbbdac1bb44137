namespace Tokage.Cli;

/// <summary>
/// Where the control plane is and how to prove admin rights, found without flags for a local run of the AppHost:
/// <c>--url</c>, else <c>$TOKAGE_URL</c>, else <c>http://localhost:8070</c>; <c>--admin-token</c>, else
/// <c>$TOKAGE_ADMIN_TOKEN</c>, else the file the AppHost writes: <c>$TOKAGE_STATE_DIRECTORY/secrets/admin-token</c>,
/// or <c>.tokage/secrets/admin-token</c> in the current directory or the nearest parent that has one.
/// </summary>
internal sealed record CliConnection(Uri Url, string AdminToken)
{
    public const string DefaultUrl = "http://localhost:8070";

    public static CliConnection Resolve(string? url, string? adminToken, string workingDirectory, Func<string, string?> environment)
    {
        var address = url ?? environment("TOKAGE_URL") ?? DefaultUrl;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliException($"'{address}' is not an http(s) URL of the control plane.");
        }

        var token = adminToken ?? environment("TOKAGE_ADMIN_TOKEN") ?? FindTokenFile(workingDirectory, environment("TOKAGE_STATE_DIRECTORY"))
            ?? throw new CliException(
                "No admin token: pass --admin-token, set TOKAGE_ADMIN_TOKEN, or run from the checkout whose AppHost is running " +
                "(it writes .tokage/secrets/admin-token).");
        return new CliConnection(uri, token.Trim());
    }

    private static string? FindTokenFile(string workingDirectory, string? stateDirectory)
    {
        if (stateDirectory is not null)
        {
            return ReadIfExists(Path.Combine(stateDirectory, "secrets", "admin-token"));
        }

        for (var directory = new DirectoryInfo(workingDirectory); directory is not null; directory = directory.Parent)
        {
            if (ReadIfExists(Path.Combine(directory.FullName, ".tokage", "secrets", "admin-token")) is { } token)
            {
                return token;
            }
        }

        return null;
    }

    private static string? ReadIfExists(string path) => File.Exists(path) ? File.ReadAllText(path) : null;
}

/// <summary>A failure the user can act on: printed as one line, exit code 1.</summary>
internal sealed class CliException(string message) : Exception(message)
{
    /// <summary>The API's status, when an API refused.</summary>
    public System.Net.HttpStatusCode? Status { get; init; }
}
