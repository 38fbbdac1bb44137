using System.Security.Cryptography;
using Aspire.Hosting.ApplicationModel;

namespace Tokage.AppHost.Engines;

public static class GeneratedPasswords
{
    /// <summary>
    /// A secret parameter generated once and kept in the AppHost's user secrets; in a manifest it is an
    /// input the deployment tool generates, never a value of this machine's.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddGeneratedPassword(this IDistributedApplicationBuilder builder, string name) =>
        builder.AddParameter(name, new GenerateParameterDefault { MinLength = 22, Special = false }, secret: true, persist: true);
}

/// <summary>
/// Where local engines keep their data (<c>.tokage/</c> at the repository root) and the secrets that must
/// survive restarts because they are baked into the data (PostgreSQL's password at initdb).
/// </summary>
public sealed class LocalState(string root)
{
    public string Root { get; } = root;

    /// <summary>The repository root is the AppHost's parent directory; <c>Tokage:StateDirectory</c> overrides.</summary>
    public static LocalState For(IDistributedApplicationBuilder builder) =>
        new(Path.GetFullPath(builder.Configuration["Tokage:StateDirectory"]
            ?? Path.Combine(builder.AppHostDirectory, "..", ".tokage")));

    public string Directory(string name)
    {
        var path = Path.Combine(Root, name);
        System.IO.Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>
    /// A random secret created on first use and kept under <c>.tokage/secrets</c> (0700): the file is created 0600,
    /// never readable by others even for an instant.
    /// </summary>
    public string Secret(string name)
    {
        var path = Path.Combine(SecretsDirectory(), name);
        if (!File.Exists(path))
        {
            // Written whole under another name, then moved in without replacing: a reader never sees half a secret,
            // and of two AppHosts racing, the first one's secret stays.
            var written = $"{path}.{Environment.ProcessId}.tmp";
            OwnerOnlyFile.Write(written, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
            try
            {
                File.Move(written, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                File.Delete(written);
            }
        }

        return File.ReadAllText(path).Trim();
    }

    /// <summary>A file under <c>.tokage/secrets</c> holding <paramref name="content"/> (0600), e.g. a server's config with its password; returns its path.</summary>
    public string SecretFile(string name, string content)
    {
        var path = Path.Combine(SecretsDirectory(), name);
        OwnerOnlyFile.Write(path, content);
        return path;
    }

    /// <summary><c>.tokage/secrets</c>, readable by its owner only (0700).</summary>
    private string SecretsDirectory()
    {
        var directory = Directory("secrets");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return directory;
    }

    public string SecretPath(string name)
    {
        Secret(name);
        return Path.Combine(Root, "secrets", name);
    }
}
