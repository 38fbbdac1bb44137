using System.IO.Compression;
using System.Net;
using System.Text;

namespace Tokage.ClickHouseLocal.Tests;

/// <summary>ClickHouse's HTTP interface as plain HTTP clients (curl, other drivers) use it.</summary>
public sealed class HttpInterfaceTests(HostFixture fixture) : IClassFixture<HostFixture>, IDisposable
{
    private readonly HttpClient http = new() { BaseAddress = fixture.Host.BaseUri };

    public void Dispose() => http.Dispose();

    [Fact]
    public async Task PingAndBareGetAnswerOk()
    {
        Assert.Equal("Ok.\n", await http.GetStringAsync("ping"));
        Assert.Equal("Ok.\n", await http.GetStringAsync("/"));
    }

    [Fact]
    public async Task QueryInUrlDataInGzipBodyWithBlankLines()
    {
        Assert.Equal("", await PostAsync("CREATE TABLE csv_rows (id UInt32, note String) ENGINE = MergeTree ORDER BY id"));

        // A quoted CSV field holding blank lines: raw "\n\n" bytes in the INSERT data.
        var csv = "1,\"first\n\nsecond\"\n2,\"plain\"\n"u8.ToArray();
        using var body = new ByteArrayContent(Gzip(csv));
        body.Headers.ContentEncoding.Add("gzip");
        using var response = await http.PostAsync(Url("INSERT INTO csv_rows FORMAT CSV"), body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"written_rows\":\"2\"", Assert.Single(response.Headers.GetValues("X-ClickHouse-Summary")));

        Assert.Equal("{\"id\":1,\"note\":\"first\\n\\nsecond\"}\n{\"id\":2,\"note\":\"plain\"}\n",
            await PostAsync("SELECT * FROM csv_rows ORDER BY id FORMAT JSONEachRow"));
    }

    [Fact]
    public async Task ResponseIsCompressedOnRequest()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url(null, "enable_http_compression=1&default_format=CSV"))
        {
            Content = new StringContent("SELECT number FROM numbers(3)"),
        };
        request.Headers.AcceptEncoding.ParseAdd("gzip");
        using var response = await http.SendAsync(request);

        Assert.Equal("gzip", Assert.Single(response.Content.Headers.ContentEncoding));
        Assert.Equal("CSV", Assert.Single(response.Headers.GetValues("X-ClickHouse-Format")));
        using var gzip = new GZipStream(await response.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        Assert.Equal("0\n1\n2\n", await reader.ReadToEndAsync());
    }

    [Fact]
    public async Task DatabaseAndSettingsLastOneRequest()
    {
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("system\t3\n", await PostAsync(
                "SELECT currentDatabase(), getSetting('max_threads')", "database=system&max_threads=3"));
            Assert.Equal("default\t0\n", await PostAsync("SELECT currentDatabase(), getSetting('max_threads') = 3"));
        }
    }

    [Fact]
    public async Task SetAndUseDoNotOutliveTheirRequest()
    {
        // As ClickHouse without a session; here they would otherwise stick to a pooled connection.
        await PostAsync("SET max_threads = 7");
        await PostAsync("USE system");
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("default\t0\n", await PostAsync("SELECT currentDatabase(), getSetting('max_threads') = 7"));
        }
    }

    [Fact]
    public async Task HeadersTheDriverReads()
    {
        using var response = await http.PostAsync(Url(null, "query_id=my-query"), new StringContent("SELECT 1"));
        Assert.Equal("my-query", Assert.Single(response.Headers.GetValues("X-ClickHouse-Query-Id")));
        Assert.Equal("UTC", Assert.Single(response.Headers.GetValues("X-ClickHouse-Timezone")));
        Assert.Equal("TabSeparated", Assert.Single(response.Headers.GetValues("X-ClickHouse-Format")));
        Assert.Contains("\"elapsed_ns\":\"", Assert.Single(response.Headers.GetValues("X-ClickHouse-Summary")));
        Assert.Equal("UTC\n", await PostAsync("SELECT timezone()"));
    }

    private string Url(string? query, string extra = "")
    {
        var url = $"/?password={HostFixture.Password}";
        if (query is not null)
        {
            url += "&query=" + Uri.EscapeDataString(query);
        }

        return extra.Length > 0 ? url + "&" + extra : url;
    }

    private async Task<string> PostAsync(string sql, string extra = "")
    {
        using var response = await http.PostAsync(Url(null, extra), new StringContent(sql, Encoding.UTF8));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return text;
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }
}
