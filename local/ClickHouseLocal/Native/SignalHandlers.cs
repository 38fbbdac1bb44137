using System.Runtime.InteropServices;

namespace Tokage.ClickHouseLocal.Native;

/// <summary>
/// A snapshot of the process's signal dispositions. chDB installs its own handlers for SIGSEGV and
/// friends; .NET turns a null dereference in managed code into a NullReferenceException through its
/// SIGSEGV handler, so with chDB's in place any NRE kills the process. Take a snapshot before chDB
/// starts and put back what .NET had afterwards.
/// </summary>
internal sealed unsafe class SignalHandlers
{
    // 32 and 33 are glibc's own (sigaction refuses them); 9 and 19 cannot be caught.
    private const int MaxSignal = 64;

    private readonly byte[][] actions = new byte[MaxSignal + 1][];

    private SignalHandlers()
    {
    }

    public static SignalHandlers Capture()
    {
        var snapshot = new SignalHandlers();
        for (var signal = 1; signal <= MaxSignal; signal++)
        {
            var buffer = new byte[LibC.SigactionSize];
            fixed (byte* b = buffer)
            {
                if (LibC.Sigaction(signal, null, b) == 0)
                {
                    snapshot.actions[signal] = buffer;
                }
            }
        }

        return snapshot;
    }

    /// <summary>
    /// Puts back every disposition that changed where the runtime had a real handler. Signals the runtime
    /// left at default or ignored stay with chDB: its query profiler, for one, relies on its own.
    /// </summary>
    /// <returns>The signals that were restored.</returns>
    public IReadOnlyList<int> RestoreRuntimeHandlers()
    {
        var restored = new List<int>();
        var current = stackalloc byte[LibC.SigactionSize];
        for (var signal = 1; signal <= MaxSignal; signal++)
        {
            var saved = actions[signal];
            if (saved is null)
            {
                continue;
            }

            var savedHandler = MemoryMarshal.Read<nint>(saved);
            if (savedHandler == LibC.SigDfl || savedHandler == LibC.SigIgn)
            {
                continue;
            }

            if (LibC.Sigaction(signal, null, current) != 0)
            {
                continue;
            }

            if (new ReadOnlySpan<byte>(current, LibC.SigactionSize).SequenceEqual(saved))
            {
                continue;
            }

            fixed (byte* s = saved)
            {
                if (LibC.Sigaction(signal, s, null) == 0)
                {
                    restored.Add(signal);
                }
            }
        }

        return restored;
    }

    /// <summary>Cheap check after each statement: is the runtime's SIGSEGV handler still installed?</summary>
    public bool SegvHandlerIntact()
    {
        const int sigsegv = 11;
        var saved = actions[sigsegv];
        if (saved is null)
        {
            return true;
        }

        var current = stackalloc byte[LibC.SigactionSize];
        return LibC.Sigaction(sigsegv, null, current) != 0
            || MemoryMarshal.Read<nint>(new ReadOnlySpan<byte>(current, sizeof(nint))) == MemoryMarshal.Read<nint>(saved);
    }
}
