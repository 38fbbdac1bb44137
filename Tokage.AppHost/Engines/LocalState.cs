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
        var directory = Directory("secrets");
        var path = Path.Combine(directory, name);
        if (!File.Exists(path))
        {
            var owner = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                owner.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            try
            {
                using var file = new StreamWriter(path, System.Text.Encoding.ASCII, owner);
                file.Write(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another AppHost process created it first: theirs is the secret.
            }
        }

        return File.ReadAllText(path).Trim();
    }

    public string SecretPath(string name)
    {
        Secret(name);
        return Path.Combine(Root, "secrets", name);
    }
}
