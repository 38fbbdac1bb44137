namespace Tokage.AppHost;

/// <summary>
/// Files that hold secrets (local passwords, a server's config, published Kubernetes Secrets): 0600 from the first
/// byte — and made so when the file already existed — in UTF-8 without a byte-order mark (servers read them byte for byte).
/// </summary>
internal static class OwnerOnlyFile
{
    public static void Write(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            if (File.Exists(path))
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        using var file = new StreamWriter(path, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), options);
        file.Write(content);
    }
}
