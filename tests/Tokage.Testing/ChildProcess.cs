using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tokage.Testing;

/// <summary>A real process a test runs: its output kept for failure messages, stopped by a signal, or killed.</summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly string stopSignal;
    private bool disposed;

    private ChildProcess(Process process, string stopSignal)
    {
        this.process = process;
        this.stopSignal = stopSignal;
    }

    public int Id => process.Id;

    public bool HasExited => process.HasExited;

    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>Starts <paramref name="file"/>; <paramref name="stopSignal"/> is what <see cref="StopAsync"/> sends (TERM, or INT for PostgreSQL's fast shutdown).</summary>
    public static ChildProcess Start(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, string stopSignal = "TERM")
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var child = new ChildProcess(Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start."), stopSignal);
        child.process.OutputDataReceived += (_, e) => child.Append(e.Data);
        child.process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        child.process.BeginOutputReadLine();
        child.process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Polls <paramref name="ready"/> until it is true; throws with the output when the process exits or time runs out.</summary>
    public async Task WaitUntilAsync(string what, Func<Task<bool>> ready, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{what}: the process exited with {process.ExitCode} first:\n{Output}");
            }

            try
            {
                if (await ready())
                {
                    return;
                }
            }
            catch (Exception ex)
            {
                // Not listening yet, or not ready: whatever the probe's client throws.
                last = ex;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{what}: not ready in time (last probe: {last?.Message ?? "not ready"}):\n{Output}");
    }

    /// <summary>Waits for a process that ends by itself; its exit code, or a TimeoutException with the output.</summary>
    public async Task<int> WaitForExitAsync(string what, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{what}: still running after {timeout}:\n{Output}");
        }

        // The redirected output is complete only once a wait without a timeout has returned.
        await process.WaitForExitAsync();
        return process.ExitCode;
    }

    /// <summary>Sends the stop signal, then the exit code (null if it did not exit in time).</summary>
    public async Task<int?> StopAsync(TimeSpan timeout)
    {
        if (process.HasExited)
        {
            return process.ExitCode;
        }

        using (var kill = Process.Start("kill", [$"-{stopSignal}", process.Id.ToString()]))
        {
            await kill!.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        process.Kill();
        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        if (!process.HasExited && await StopAsync(TimeSpan.FromSeconds(10)) is null)
        {
            await KillAsync();
        }

        process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }
}
