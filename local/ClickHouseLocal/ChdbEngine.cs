using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Tokage.ClickHouseLocal.Native;

namespace Tokage.ClickHouseLocal;

/// <summary>
/// The embedded ClickHouse: one chDB engine per process on one data path, with a small pool of
/// connections to it. A connection runs one statement at a time, so a request leases one.
/// </summary>
internal sealed class ChdbEngine : IDisposable
{
    private readonly ChdbApi api;
    private readonly ILogger<ChdbEngine> logger;
    private readonly ConcurrentQueue<ChdbSession> idle = new();
    private readonly List<ChdbSession> all = [];
    private readonly SemaphoreSlim available;
    private SignalHandlers? runtimeHandlers;
    private int signalWarnings;
    private bool disposed;

    private ChdbEngine(ChdbApi api, string dataPath, int poolSize, ILogger<ChdbEngine> logger)
    {
        this.api = api;
        this.logger = logger;
        DataPath = dataPath;
        available = new SemaphoreSlim(0, Math.Max(poolSize, 1));
    }

    public string DataPath { get; }

    public string LibraryPath => api.LibraryPath;

    public int PoolSize => all.Count;

    /// <summary>Loads the library and opens the pool; throws with ClickHouse's message if chDB refuses.</summary>
    public static ChdbEngine Start(string libraryPath, IOptions<ClickHouseLocalOptions> options, ILogger<ChdbEngine> logger)
    {
        var settings = options.Value;
        var dataPath = Path.GetFullPath(settings.DataPath);
        Directory.CreateDirectory(dataPath);

        var engine = new ChdbEngine(ChdbApi.Load(libraryPath), dataPath, settings.PoolSize, logger);
        engine.Open(Math.Max(settings.PoolSize, 1));
        return engine;
    }

    private void Open(int poolSize)
    {
        // Snapshot before chDB touches anything; chdb_set_signal_handlers_enabled(0) itself resets the
        // deadly signals to SIG_DFL, and chdb_connect may install ClickHouse's handlers.
        runtimeHandlers = SignalHandlers.Capture();
        api.DisableSignalHandlers();
        try
        {
            for (var i = 0; i < poolSize; i++)
            {
                // Tables load before the first query: with asynchronous loading an insert can land before the
                // materialized views on its table are loaded, and the views never see it (ClickHouse#72589).
                var pointer = api.Connect(["clickhouse", $"--path={DataPath}", "--", "--async_load_databases=0"]);
                if (pointer == 0)
                {
                    if (i == 0)
                    {
                        throw new InvalidOperationException(
                            $"chDB could not open '{DataPath}'. Another process may be using it (one process per data path).");
                    }

                    logger.LogWarning("chDB refused connection {Index} on the same data path; continuing with {Count}.", i + 1, i);
                    break;
                }

                var session = new ChdbSession(api, pointer);
                all.Add(session);
            }
        }
        finally
        {
            var restored = runtimeHandlers.RestoreRuntimeHandlers();
            if (restored.Count > 0)
            {
                logger.LogInformation("Restored the runtime's handlers for signals {Signals} after chDB started.", string.Join(",", restored));
            }
        }

        foreach (var session in all)
        {
            // Probe: a connection that cannot answer is a failed start, not a failed first request.
            var error = session.Initialize();
            if (error is not null)
            {
                throw new InvalidOperationException($"chDB connection failed its first statement: {error}");
            }

            idle.Enqueue(session);
        }

        available.Release(all.Count);
    }

    /// <summary>Waits for a free connection; dispose the lease to give it back.</summary>
    public async ValueTask<Lease> AcquireAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        await available.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!idle.TryDequeue(out var session))
        {
            available.Release();
            throw new InvalidOperationException("The chDB pool lost track of a connection.");
        }

        return new Lease(this, session);
    }

    private void Return(ChdbSession session)
    {
        // A native call may have reinstalled ClickHouse's handlers; a NullReferenceException would then kill us.
        if (runtimeHandlers is not null && !runtimeHandlers.SegvHandlerIntact())
        {
            var restored = runtimeHandlers.RestoreRuntimeHandlers();
            if (Interlocked.Increment(ref signalWarnings) <= 3)
            {
                logger.LogWarning("chDB replaced signal handlers during a statement; restored {Signals}.", string.Join(",", restored));
            }
        }

        idle.Enqueue(session);
        available.Release();
    }

    /// <summary>Closes every connection (the last one shuts the engine down). Call once, at shutdown.</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        foreach (var session in all)
        {
            session.Close();
        }

        all.Clear();
    }

    /// <summary>Exclusive use of one connection.</summary>
    public readonly struct Lease(ChdbEngine engine, ChdbSession session) : IDisposable
    {
        public ChdbSession Session => session;

        public void Dispose() => engine.Return(session);
    }
}
