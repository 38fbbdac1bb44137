using ClickHouse.Driver;

namespace Tokage.ClickHouseLocal.Tests;

/// <summary>Start, stop and crash the host on one data path.</summary>
public sealed class LifecycleTests
{
    [Fact]
    public async Task SigtermClosesChdbAndExitsZero()
    {
        var dataPath = ClickHouseLocalProcess.NewDataPath();
        try
        {
            await using var host = await ClickHouseLocalProcess.StartAsync(dataPath);
            using (var client = new ClickHouseClient(host.ConnectionString))
            {
                await client.ExecuteNonQueryAsync("CREATE TABLE kept (id UInt64) ENGINE = MergeTree ORDER BY id");
                await client.InsertBinaryAsync("kept", ["id"], Enumerable.Range(0, 500).Select(i => new object[] { (ulong)i }));
            }

            Assert.Equal(0, await host.StopAsync(TimeSpan.FromSeconds(15)));

            await using var again = await ClickHouseLocalProcess.StartAsync(dataPath);
            using var reader = new ClickHouseClient(again.ConnectionString);
            Assert.Equal(500UL, Convert.ToUInt64(await reader.ExecuteScalarAsync("SELECT count() FROM kept")));
        }
        finally
        {
            HostFixture.TryDelete(dataPath);
        }
    }

    [Fact]
    public async Task AfterARestartTheFirstInsertReachesTheMaterializedViews()
    {
        var dataPath = ClickHouseLocalProcess.NewDataPath();
        try
        {
            await using (var host = await ClickHouseLocalProcess.StartAsync(dataPath))
            {
                using var client = new ClickHouseClient(host.ConnectionString);
                await client.ExecuteNonQueryAsync("CREATE TABLE source (n UInt64) ENGINE = MergeTree ORDER BY n");
                await client.ExecuteNonQueryAsync("CREATE TABLE target (n UInt64) ENGINE = MergeTree ORDER BY n");
                await client.ExecuteNonQueryAsync("CREATE MATERIALIZED VIEW source_mv TO target AS SELECT n FROM source");
                await host.KillAsync();
            }

            // With ClickHouse's asynchronous table loading an insert can land before the view is loaded and never
            // reach it (ClickHouse#72589); the host loads every table before it answers.
            await using var again = await ClickHouseLocalProcess.StartAsync(dataPath);
            using var reader = new ClickHouseClient(again.ConnectionString);
            Assert.Equal("0", Convert.ToString(await reader.ExecuteScalarAsync("SELECT value FROM system.server_settings WHERE name = 'async_load_databases'")));
            await reader.ExecuteNonQueryAsync("INSERT INTO source SELECT number FROM numbers(1000)");
            Assert.Equal(1_000UL, Convert.ToUInt64(await reader.ExecuteScalarAsync("SELECT count() FROM target")));
        }
        finally
        {
            HostFixture.TryDelete(dataPath);
        }
    }

    [Fact]
    public async Task DataSurvivesKill9()
    {
        var dataPath = ClickHouseLocalProcess.NewDataPath();
        try
        {
            await using (var host = await ClickHouseLocalProcess.StartAsync(dataPath))
            {
                using var client = new ClickHouseClient(host.ConnectionString);
                await client.ExecuteNonQueryAsync("CREATE TABLE durable (tenant_id String, n UInt64) ENGINE = MergeTree ORDER BY (tenant_id, n)");
                await client.InsertBinaryAsync("durable", ["tenant_id", "n"], Enumerable.Range(0, 10_000).Select(i => new object[] { "t", (ulong)i }));
                await host.KillAsync();
            }

            await using var again = await ClickHouseLocalProcess.StartAsync(dataPath);
            using var reader = new ClickHouseClient(again.ConnectionString);
            Assert.Equal(10_000UL, Convert.ToUInt64(await reader.ExecuteScalarAsync("SELECT count() FROM durable")));
        }
        finally
        {
            HostFixture.TryDelete(dataPath);
        }
    }

    [Fact]
    public async Task Kill9MidInsertKeepsWhatWasAcknowledged()
    {
        var dataPath = ClickHouseLocalProcess.NewDataPath();
        try
        {
            await using (var host = await ClickHouseLocalProcess.StartAsync(dataPath))
            {
                using var client = new ClickHouseClient(host.ConnectionString);
                await client.ExecuteNonQueryAsync("CREATE TABLE acked (batch String, n UInt64) ENGINE = MergeTree ORDER BY (batch, n)");
                for (var batch = 0; batch < 3; batch++)
                {
                    await client.InsertBinaryAsync("acked", ["batch", "n"], Enumerable.Range(0, 20_000).Select(i => new object[] { $"b{batch}", (ulong)i }));
                }

                // A large insert still streaming (and a slow one running) when the host dies.
                var inFlight = client.InsertBinaryAsync("acked", ["batch", "n"], Enumerable.Range(0, 2_000_000).Select(i => new object[] { "unacked", (ulong)i }));
                var slow = client.ExecuteNonQueryAsync("INSERT INTO acked SELECT 'slow', number FROM numbers(50) WHERE sleepEachRow(0.1) = 0 SETTINGS max_block_size = 10");
                await Task.Delay(700);
                await host.KillAsync();
                await Assert.ThrowsAnyAsync<Exception>(() => slow);
                await Assert.ThrowsAnyAsync<Exception>(() => inFlight);
            }

            await using var again = await ClickHouseLocalProcess.StartAsync(dataPath);
            using var reader = new ClickHouseClient(again.ConnectionString);
            Assert.Equal(60_000UL, Convert.ToUInt64(await reader.ExecuteScalarAsync("SELECT count() FROM acked WHERE batch IN ('b0', 'b1', 'b2')")));
            Assert.Equal(3UL * Enumerable.Range(0, 20_000).Aggregate(0UL, (s, i) => s + (ulong)i),
                Convert.ToUInt64(await reader.ExecuteScalarAsync("SELECT sum(n) FROM acked WHERE batch IN ('b0', 'b1', 'b2')")));

            // The restarted host takes writes again.
            await reader.InsertBinaryAsync("acked", ["batch", "n"], [["after", 1UL]]);
            Assert.Equal(1UL, Convert.ToUInt64(await reader.ExecuteScalarAsync("SELECT count() FROM acked WHERE batch = 'after'")));
        }
        finally
        {
            HostFixture.TryDelete(dataPath);
        }
    }

    [Fact]
    public async Task MissingLibraryExitsWithAClearMessage()
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ClickHouseLocalProcess.HostAssembly);
        start.ArgumentList.Add("--http-port=0");
        start.Environment["TOKAGE_CHDB_LIB"] = "/nonexistent/libchdb.so";
        start.Environment["XDG_CACHE_HOME"] = "/nonexistent-cache";
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.NotEqual(0, process.ExitCode);
        var message = await stderr;
        Assert.Contains("/nonexistent/libchdb.so", message);
        Assert.Contains("/nonexistent-cache/tokage/chdb/26.5.3/libchdb.so", message);
        Assert.Contains("./scripts/setup.sh", message);
    }
}
