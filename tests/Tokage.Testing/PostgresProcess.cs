using Npgsql;

namespace Tokage.Testing;

/// <summary>
/// A PostgreSQL server of the test's own, through the same <c>scripts/local-postgres.sh</c> the AppHost runs
/// (initdb on first start; as root, the server runs as the <c>postgres</c> user).
/// </summary>
public sealed class PostgresProcess : IAsyncDisposable
{
    private ChildProcess process;

    private PostgresProcess(ChildProcess process, string dataPath, int port, string password)
    {
        this.process = process;
        DataPath = dataPath;
        Port = port;
        Password = password;
    }

    public string DataPath { get; }

    public string Output => process.Output;

    public int Port { get; }

    public string Password { get; }

    /// <summary>The owner (superuser) of the server.</summary>
    public string ServerConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Password={Password};Timeout=5";

    public string ConnectionString(string database) => $"{ServerConnectionString};Database={database}";

    public static async Task<PostgresProcess> StartAsync()
    {
        var dataPath = Path.Combine(Path.GetTempPath(), "tokage-postgres-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.GetDirectoryName(dataPath)!);
        var server = new PostgresProcess(null!, dataPath, ChildProcess.FreePort(), Guid.NewGuid().ToString("N"));
        await server.RunAsync();
        return server;
    }

    public async Task CreateDatabaseAsync(string database)
    {
        await using var connection = new NpgsqlConnection(ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Fast shutdown (SIGINT): clients are disconnected, nothing is lost.</summary>
    public Task StopAsync() => process.StopAsync(TimeSpan.FromSeconds(30));

    /// <summary>Starts the server again on the same data and port.</summary>
    public Task RestartAsync() => RunAsync();

    public async ValueTask DisposeAsync()
    {
        await process.DisposeAsync();
        HostFixture.TryDelete(DataPath);
        File.Delete(DataPath + ".pwfile");
    }

    private async Task RunAsync()
    {
        var passwordFile = Path.Combine(Path.GetTempPath(), $"tokage-pg-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(passwordFile, Password);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        process = ChildProcess.Start("bash", [Path.Combine(TestAssets.Path("RepositoryRoot"), "scripts", "local-postgres.sh"), DataPath, Port.ToString(), passwordFile], stopSignal: "INT");
        try
        {
            await process.WaitUntilAsync("PostgreSQL", async () =>
            {
                // Unpooled: a pooled connection from before a restart would "open" without the server.
                await using var connection = new NpgsqlConnection(ServerConnectionString + ";Pooling=false");
                await connection.OpenAsync();
                return true;
            });
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }
}
