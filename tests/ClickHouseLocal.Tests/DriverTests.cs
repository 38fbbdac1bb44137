using System.Net;
using ClickHouse.Driver;
using ClickHouse.Driver.ADO;
using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Compression;
using ClickHouse.Driver.Utility;

namespace Tokage.ClickHouseLocal.Tests;

/// <summary>Unmodified ClickHouse.Driver against the host.</summary>
public sealed class DriverTests(HostFixture fixture) : IClassFixture<HostFixture>, IDisposable
{
    private readonly ClickHouseClient client = new(fixture.Host.ConnectionString);

    public void Dispose() => client.Dispose();

    /// <summary>
    /// The read-only user (what the query API connects as) reads, with settings of its own such as a time limit, and
    /// is refused with READONLY whatever else it tries: writes, DDL, two statements, table functions that reach out.
    /// </summary>
    [Fact]
    public async Task TheReadOnlyUserReadsWithLimitsAndCannotWriteOrReachOutside()
    {
        await client.ExecuteNonQueryAsync("CREATE TABLE readable (n UInt64) ENGINE = MergeTree ORDER BY n");
        await client.ExecuteNonQueryAsync("INSERT INTO readable SELECT number FROM numbers(10)");
        using var reader = new ClickHouseClient(fixture.Host.ReadOnlyConnectionString);

        Assert.Equal(45UL, Convert.ToUInt64(await reader.ExecuteScalarAsync("SELECT sum(n) FROM readable")));
        Assert.Equal(1UL, Convert.ToUInt64(await reader.ExecuteScalarAsync("WITH 1 AS one SELECT one")));

        foreach (var sql in new[]
        {
            "INSERT INTO readable VALUES (11)",
            "DROP TABLE readable",
            "CREATE TABLE mine (n UInt8) ENGINE = Memory",
            "ALTER TABLE readable DELETE WHERE n = 1",
            "SELECT 1; DROP TABLE readable",
            "SELECT * FROM file('/etc/passwd', 'LineAsString')",
            "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
            // What ClickHouse reads differently from a simple lexer: nested comments, $$ strings, quoted names, and writing a file.
            "SELECT * /* /* */ ' */ FROM file('/etc/passwd', 'LineAsString') -- '",
            "SELECT $$'$$, * FROM file('/etc/passwd', 'LineAsString') -- '",
            "SELECT * FROM `file`('/etc/passwd', 'LineAsString')",
            "SELECT * FROM \"file\"('/etc/passwd', 'LineAsString')",
            "SELECT 1 INTO OUTFILE '/tmp/tokage-reader-escape.txt'",
            "SELECT * FROM icebergLocal('/tmp')",
        })
        {
            var refused = await Assert.ThrowsAsync<ClickHouseServerException>(() => reader.ExecuteNonQueryAsync(sql));
            Assert.True(refused.ErrorCode == 164, $"{sql}: {refused.Message}");
        }

        Assert.Equal(10UL, Convert.ToUInt64(await client.ExecuteScalarAsync("SELECT count() FROM readable")));

        // Its own settings apply: a query past its time limit is cut off (TIMEOUT_EXCEEDED).
        using var limited = new ClickHouseClient(fixture.Host.ReadOnlyConnectionString + ";set_max_execution_time=0.05");
        var cut = await Assert.ThrowsAsync<ClickHouseServerException>(() => limited.ExecuteScalarAsync("SELECT count() FROM numbers_mt(100000000000) WHERE number % 7 = 3"));
        Assert.Equal(159, cut.ErrorCode);

        // A wrong password is refused like any other.
        using var impostor = new ClickHouseClient($"Host=127.0.0.1;Port={fixture.Host.Port};Protocol=http;Username={ClickHouseLocalProcess.ReadOnlyUser};Password=guess");
        Assert.Equal(516, (await Assert.ThrowsAsync<ClickHouseServerException>(() => impostor.ExecuteScalarAsync("SELECT 1"))).ErrorCode);
    }

    [Fact]
    public async Task Ping()
    {
        Assert.True(await client.PingAsync());
    }

    [Fact]
    public async Task MergeTreeTableAndParameterisedSelect()
    {
        await client.ExecuteNonQueryAsync("""
            CREATE TABLE usage_events (tenant_id String, event_id UInt64, cost Decimal(18, 6), at DateTime64(3, 'UTC'))
            ENGINE = MergeTree ORDER BY (tenant_id, event_id)
            """);
        await client.ExecuteNonQueryAsync("""
            INSERT INTO usage_events VALUES
                ('acme', 1, 0.5, '2026-01-01 00:00:00'), ('acme', 2, 1.25, '2026-01-01 00:00:01'),
                ('o''hara', 3, 2, '2026-01-01 00:00:02')
            """);

        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("tenant", "acme");
        using var reader = await client.ExecuteReaderAsync(
            "SELECT count() AS n, sum(cost) AS total FROM usage_events WHERE tenant_id = {tenant:String}", parameters);
        Assert.True(reader.Read());
        Assert.Equal(2UL, Convert.ToUInt64(reader.GetValue(0)));
        Assert.Equal(1.75m, Convert.ToDecimal(reader.GetValue(1)));

        // A value that would break naive concatenation stays a value.
        var quoted = new ClickHouseParameterCollection();
        quoted.AddParameter("tenant", "o'hara");
        Assert.Equal(1UL, Convert.ToUInt64(await client.ExecuteScalarAsync(
            "SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", quoted)));
        var injection = new ClickHouseParameterCollection();
        injection.AddParameter("tenant", "x' OR 1=1 --");
        Assert.Equal(0UL, Convert.ToUInt64(await client.ExecuteScalarAsync(
            "SELECT count() FROM usage_events WHERE tenant_id = {tenant:String}", injection)));
    }

    [Fact]
    public async Task BulkInsertOf100kRows()
    {
        await client.ExecuteNonQueryAsync(
            "CREATE TABLE bulk (tenant_id String, event_id UInt64, tokens UInt32, at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY (tenant_id, event_id)");
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var rows = Enumerable.Range(0, 100_000)
            .Select(i => new object[] { $"tenant-{i % 7}", (ulong)i, (uint)(i % 1000), start.AddMilliseconds(i) });

        var written = await client.InsertBinaryAsync("bulk", ["tenant_id", "event_id", "tokens", "at"], rows);

        Assert.Equal(100_000, written);
        Assert.Equal(100_000UL, Convert.ToUInt64(await client.ExecuteScalarAsync("SELECT count() FROM bulk")));
        Assert.Equal(Enumerable.Range(0, 100_000).Sum(i => (long)(i % 1000)), Convert.ToInt64(await client.ExecuteScalarAsync("SELECT sum(tokens) FROM bulk")));
    }

    public static TheoryData<string> Compressions() => ["none", "gzip", "br", "lz4", "zstd"];

    [Theory]
    [MemberData(nameof(Compressions))]
    public async Task BulkInsertOf100kRowsWithEachCompression(string compression)
    {
        var table = $"bulk_{compression}";
        await client.ExecuteNonQueryAsync(
            $"CREATE TABLE {table} (tenant_id LowCardinality(String), event_id String, tokens UInt64, cost Decimal(38, 18)) ENGINE = MergeTree ORDER BY (tenant_id, event_id)");
        var rows = Enumerable.Range(0, 100_000)
            .Select(i => new object[] { $"tenant-{i % 7}", $"e-{i}", (ulong)(i % 1000), new decimal(i, 0, 0, false, 9) })
            .ToList();
        IClickHouseCompressor? compressor = compression switch
        {
            "gzip" => GZipCompressor.Default,
            "br" => BrotliCompressor.Default,
            "lz4" => Lz4Compressor.Default,
            "zstd" => ZstdCompressor.Default,
            _ => null,
        };
        using var sender = new ClickHouseClient(new ClickHouseClientSettings(fixture.Host.ConnectionString) { UseCompression = compressor is not null });

        var written = await sender.InsertBinaryAsync(table, ["tenant_id", "event_id", "tokens", "cost"], rows, new InsertOptions { Compressor = compressor });

        Assert.Equal(100_000, written);
        Assert.Equal(100_000UL, Convert.ToUInt64(await client.ExecuteScalarAsync($"SELECT count() FROM {table}")));
        Assert.Equal(Enumerable.Range(0, 100_000).Sum(i => (long)(i % 1000)), Convert.ToInt64(await client.ExecuteScalarAsync($"SELECT sum(tokens) FROM {table}")));
        Assert.Equal(Enumerable.Range(0, 100_000).Sum(i => new decimal(i, 0, 0, false, 9)), Convert.ToDecimal(await client.ExecuteScalarAsync($"SELECT sum(cost) FROM {table}")));
    }

    [Fact]
    public async Task MaterializedViewsAndTtl()
    {
        await client.ExecuteNonQueryAsync("""
            CREATE TABLE mv_source (tenant_id LowCardinality(String), at DateTime64(3, 'UTC'), tokens UInt64, cost Decimal(38, 18))
            ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(at) ORDER BY (tenant_id, at)
            TTL toDateTime(at) + INTERVAL 30 DAY
            """);
        await client.ExecuteNonQueryAsync("""
            CREATE TABLE mv_hourly (tenant_id LowCardinality(String), hour DateTime('UTC'), events UInt64, tokens UInt64, cost Decimal(38, 18))
            ENGINE = SummingMergeTree ORDER BY (tenant_id, hour)
            """);
        await client.ExecuteNonQueryAsync("""
            CREATE TABLE mv_states (tenant_id LowCardinality(String), users AggregateFunction(uniqCombined64, UInt64), token_sum AggregateFunction(sum, UInt64))
            ENGINE = AggregatingMergeTree ORDER BY tenant_id
            """);
        await client.ExecuteNonQueryAsync("""
            CREATE MATERIALIZED VIEW mv_hourly_view TO mv_hourly AS
            SELECT tenant_id, toStartOfHour(at) AS hour, count() AS events, sum(tokens) AS tokens, sum(cost) AS cost FROM mv_source GROUP BY tenant_id, hour
            """);
        await client.ExecuteNonQueryAsync("""
            CREATE MATERIALIZED VIEW mv_states_view TO mv_states AS
            SELECT tenant_id, uniqCombined64State(toUInt64(tokens % 10)) AS users, sumState(tokens) AS token_sum FROM mv_source GROUP BY tenant_id
            """);

        var now = DateTime.UtcNow;
        var rows = Enumerable.Range(0, 1_000).Select(i => new object[] { i % 2 == 0 ? "acme" : "globex", now.AddMinutes(-i), (ulong)i, 0.000001m * i }).ToList();
        rows.Add(["acme", now.AddDays(-40), 5UL, 1m]);
        await client.InsertBinaryAsync("mv_source", ["tenant_id", "at", "tokens", "cost"], rows);
        await client.ExecuteNonQueryAsync("OPTIMIZE TABLE mv_source FINAL");

        // TTL removed the 40-day-old row from the source; the views had already counted it.
        Assert.Equal(1_000UL, Convert.ToUInt64(await client.ExecuteScalarAsync("SELECT count() FROM mv_source")));
        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("tenant", "acme");
        using (var reader = await client.ExecuteReaderAsync(
            "SELECT sum(events), sum(tokens), sum(cost) FROM mv_hourly WHERE tenant_id = {tenant:String}", parameters))
        {
            Assert.True(reader.Read());
            Assert.Equal(501UL, Convert.ToUInt64(reader.GetValue(0)));
            Assert.Equal((ulong)Enumerable.Range(0, 1_000).Where(i => i % 2 == 0).Sum() + 5, Convert.ToUInt64(reader.GetValue(1)));
            Assert.Equal(Enumerable.Range(0, 1_000).Where(i => i % 2 == 0).Sum(i => 0.000001m * i) + 1m, Convert.ToDecimal(reader.GetValue(2)));
        }

        using (var reader = await client.ExecuteReaderAsync(
            "SELECT uniqCombined64Merge(users), sumMerge(token_sum) FROM mv_states WHERE tenant_id = {tenant:String}", parameters))
        {
            Assert.True(reader.Read());
            Assert.Equal(6UL, Convert.ToUInt64(reader.GetValue(0))); // 0, 2, 4, 6, 8 and the old row's 5
            Assert.Equal((ulong)Enumerable.Range(0, 1_000).Where(i => i % 2 == 0).Sum() + 5, Convert.ToUInt64(reader.GetValue(1)));
        }
    }

    [Fact]
    public async Task AdoNetCommandWithParameters()
    {
        await client.ExecuteNonQueryAsync("CREATE TABLE ado_rows (tenant_id String, n UInt32) ENGINE = MergeTree ORDER BY (tenant_id, n)");
        await client.ExecuteNonQueryAsync("INSERT INTO ado_rows SELECT if(number % 3 = 0, 'acme', 'globex'), number FROM numbers(300)");

        await using var connection = client.CreateConnection();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(), max(n) FROM ado_rows WHERE tenant_id = {tenant:String} AND n < {limit:UInt32}";
        var tenant = command.CreateParameter();
        tenant.ParameterName = "tenant";
        tenant.Value = "acme";
        command.Parameters.Add(tenant);
        var limit = command.CreateParameter();
        limit.ParameterName = "limit";
        limit.Value = 100u;
        command.Parameters.Add(limit);

        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(34UL, Convert.ToUInt64(reader.GetValue(0)));
        Assert.Equal(99U, Convert.ToUInt32(reader.GetValue(1)));
        Assert.False(await reader.ReadAsync());
    }

    [Fact]
    public async Task ReadsDoNotWaitBehindALongInsert()
    {
        await client.ExecuteNonQueryAsync("CREATE TABLE slow_sink (n UInt64) ENGINE = MergeTree ORDER BY n");
        await client.ExecuteNonQueryAsync("CREATE TABLE busy (tenant_id String, n UInt64) ENGINE = MergeTree ORDER BY (tenant_id, n)");

        // An insert that holds its connection for about 5 s (sleepEachRow, 1 s per block), while other clients read and write.
        var longInsert = client.ExecuteNonQueryAsync(
            "INSERT INTO slow_sink SELECT number FROM numbers(50) WHERE sleepEachRow(0.1) = 0 SETTINGS max_block_size = 10");
        await Task.Delay(200);

        var writers = Enumerable.Range(0, 4).Select(w => client.InsertBinaryAsync(
            "busy", ["tenant_id", "n"], Enumerable.Range(0, 5_000).Select(i => new object[] { $"w{w}", (ulong)i })));
        var reads = 0;
        while (!longInsert.IsCompleted && reads < 20)
        {
            Assert.Equal(reads + 1, Convert.ToInt32(await client.ExecuteScalarAsync($"SELECT {reads + 1}")));
            reads++;
        }

        Assert.False(longInsert.IsCompleted, "the reads finished while the long insert was still running");
        Assert.Equal(20, reads);
        await Task.WhenAll(writers);
        await longInsert;
        Assert.Equal(50UL, Convert.ToUInt64(await client.ExecuteScalarAsync("SELECT count() FROM slow_sink")));
        Assert.Equal(20_000UL, Convert.ToUInt64(await client.ExecuteScalarAsync("SELECT count() FROM busy")));
    }

    [Fact]
    public async Task RowBinaryDataWithBlankLinesArrivesIntact()
    {
        // 2570 is 0x0A0A, and a 10-byte string has length prefix 0x0A: the RowBinary body is full of "\n\n",
        // where chDB cuts inline INSERT data.
        await client.ExecuteNonQueryAsync("CREATE TABLE blobs (id UInt32, n UInt16, s String) ENGINE = MergeTree ORDER BY id");
        var rows = Enumerable.Range(0, 2_000)
            .Select(i => new object[] { (uint)(i == 0 ? 2570 : i), (ushort)2570, i % 2 == 0 ? "\n\n\n\n\n\n\n\n\n\n" : $"a\n\nb\r\n\r\n{i}" })
            .ToList();

        await client.InsertBinaryAsync("blobs", ["id", "n", "s"], rows);

        var read = new Dictionary<uint, (ushort N, string S)>();
        using (var reader = await client.ExecuteReaderAsync("SELECT id, n, s FROM blobs"))
        {
            while (reader.Read())
            {
                read[Convert.ToUInt32(reader.GetValue(0))] = (Convert.ToUInt16(reader.GetValue(1)), reader.GetString(2));
            }
        }

        Assert.Equal(rows.Count, read.Count);
        foreach (var row in rows)
        {
            Assert.Equal(((ushort)row[1], (string)row[2]), read[(uint)row[0]]);
        }
    }

    [Fact]
    public async Task FailedQueryDoesNotLeakIntoTheNextResult()
    {
        // Enough rounds to hit every pooled connection; the second failure aborts after output started.
        for (var i = 0; i < 6; i++)
        {
            await Assert.ThrowsAsync<ClickHouseServerException>(() => client.ExecuteScalarAsync("SELECT * FROM no_such_table"));
            await Assert.ThrowsAsync<ClickHouseServerException>(() => client.ExecuteScalarAsync(
                "SELECT number, throwIf(number = 70000, 'boom') FROM numbers(100000) SETTINGS max_block_size = 1000"));
            Assert.Equal(42 + i, Convert.ToInt32(await client.ExecuteScalarAsync($"SELECT {42 + i}")));
        }
    }

    [Fact]
    public async Task ErrorsCarryTheClickHouseCode()
    {
        var unknownTable = await Assert.ThrowsAsync<ClickHouseServerException>(() => client.ExecuteScalarAsync("SELECT * FROM no_such_table"));
        Assert.Equal(60, unknownTable.ErrorCode);
        Assert.Contains("UNKNOWN_TABLE", unknownTable.Message);

        var syntax = await Assert.ThrowsAsync<ClickHouseServerException>(() => client.ExecuteScalarAsync("SELEC 1"));
        Assert.Equal(62, syntax.ErrorCode);

        using var http = new HttpClient();
        using var response = await http.PostAsync(new Uri(fixture.Host.BaseUri, $"?password={fixture.Host.Password}"), new StringContent("SELECT * FROM no_such_table"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("60", Assert.Single(response.Headers.GetValues("X-ClickHouse-Exception-Code")));
        Assert.StartsWith("Code: 60. DB::Exception: ", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task WrongPasswordIsRejected()
    {
        using var wrong = new ClickHouseClient(fixture.Host.ConnectionString.Replace($"Password={HostFixture.Password}", "Password=wrong", StringComparison.Ordinal));
        var error = await Assert.ThrowsAsync<ClickHouseServerException>(() => wrong.ExecuteScalarAsync("SELECT 1"));
        Assert.Equal(516, error.ErrorCode);

        using var http = new HttpClient();
        using var response = await http.PostAsync(fixture.Host.BaseUri, new StringContent("SELECT 1"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Code: 516. DB::Exception: default: Authentication failed", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task NullReferenceExceptionAfterChdbStartedIsCaught()
    {
        using var http = new HttpClient();
        for (var i = 0; i < 3; i++)
        {
            using var response = await http.PostAsync(new Uri(fixture.Host.BaseUri, "__test/nre"), null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("survived\n", await response.Content.ReadAsStringAsync());

            // And again after chDB ran statements.
            Assert.Equal(1, Convert.ToInt32(await client.ExecuteScalarAsync("SELECT 1")));
        }
    }
}
