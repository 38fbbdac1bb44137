using System.Runtime.InteropServices;

namespace Tokage.ClickHouseLocal.Native;

internal static unsafe partial class LibC
{
    /// <summary>Large enough for glibc's <c>struct sigaction</c> (152 bytes on x86-64 and arm64).</summary>
    public const int SigactionSize = 256;

    /// <summary>Offset 0 of <c>struct sigaction</c> is the handler (a union of sa_handler and sa_sigaction).</summary>
    public const nint SigDfl = 0;

    public const nint SigIgn = 1;

    [LibraryImport("libc", EntryPoint = "sigaction", SetLastError = true)]
    public static partial int Sigaction(int signal, byte* action, byte* oldAction);

    /// <summary>Leaves without running atexit handlers or C++ static destructors (chDB's can crash).</summary>
    [LibraryImport("libc", EntryPoint = "_exit")]
    public static partial void Exit(int status);
}
