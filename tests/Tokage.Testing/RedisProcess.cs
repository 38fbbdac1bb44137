using StackExchange.Redis;

namespace Tokage.Testing;

/// <summary>A redis-server of the test's own, as the AppHost runs it (AOF, <c>appendfsync always</c>, a password).</summary>
public sealed class RedisProcess : IAsyncDisposable
{
    private ChildProcess process = null!;

    private readonly string[] extraArguments;

    private RedisProcess(string dataPath, int port, string password, string[] extraArguments)
    {
        this.extraArguments = extraArguments;
        DataPath = dataPath;
        Port = port;
        Password = password;
    }

    public string DataPath { get; }

    public int Port { get; }

    public string Password { get; }

    /// <summary>StackExchange.Redis form; <c>abortConnect=false</c> so clients survive the server's restarts.</summary>
    public string ConnectionString => $"127.0.0.1:{Port},password={Password},abortConnect=false";

    /// <param name="extraArguments">Appended to the server's arguments, e.g. <c>--appendfsync everysec</c> to make it less durable.</param>
    public static async Task<RedisProcess> StartAsync(params string[] extraArguments)
    {
        var dataPath = Path.Combine(Path.GetTempPath(), "tokage-redis-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataPath);
        var redis = new RedisProcess(dataPath, ChildProcess.FreePort(), Guid.NewGuid().ToString("N"), extraArguments);
        await redis.RunAsync();
        return redis;
    }

    public Task StopAsync() => process.StopAsync(TimeSpan.FromSeconds(10));

    /// <summary>SIGKILL: a crash; what the AOF has (every acknowledged write, with <c>appendfsync always</c>) survives it.</summary>
    public Task KillAsync() => process.KillAsync();

    /// <summary>Starts the server again on the same data (the AOF) and port.</summary>
    public Task RestartAsync() => RunAsync();

    public async ValueTask DisposeAsync()
    {
        await process.DisposeAsync();
        HostFixture.TryDelete(DataPath);
    }

    private async Task RunAsync()
    {
        process = ChildProcess.Start("redis-server",
        [
            "--port", Port.ToString(), "--bind", "127.0.0.1", "--requirepass", Password, "--dir", DataPath,
            "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", .. extraArguments,
        ]);
        await process.WaitUntilAsync("redis-server", async () =>
        {
            await using var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{Port},password={Password},connectTimeout=1000");
            await connection.GetDatabase().PingAsync();
            return true;
        });
    }
}
