using System.Net;
using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Utility;

namespace Tokage.ClickHouseLocal.Tests;

/// <summary>Unmodified ClickHouse.Driver against the host.</summary>
public sealed class DriverTests(HostFixture fixture) : IClassFixture<HostFixture>, IDisposable
{
    private readonly ClickHouseClient client = new(fixture.Host.ConnectionString);

    public void Dispose() => client.Dispose();

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
