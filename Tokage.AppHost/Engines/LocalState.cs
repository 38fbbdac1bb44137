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

    /// <summary>A random secret created on first use and kept (0600) under <c>.tokage/secrets</c>.</summary>
    public string Secret(string name)
    {
        var path = Path.Combine(Directory("secrets"), name);
        if (!File.Exists(path))
        {
            var value = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            File.WriteAllText(path, value);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
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
