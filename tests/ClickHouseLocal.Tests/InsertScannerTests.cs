using System.Text;
using Tokage.ClickHouseLocal.Http;

namespace Tokage.ClickHouseLocal.Tests;

/// <summary>Where the host finds inline INSERT data (unit tests; no chDB needed).</summary>
public sealed class InsertScannerTests
{
    [Theory]
    [InlineData("INSERT INTO t (a, b) FORMAT RowBinary\n\n\nxyz", "INSERT INTO t (a, b) ", "FORMAT RowBinary", "\n\nxyz", "RowBinary")]
    [InlineData("insert into db.`format` format CSV 1,2", "insert into db.`format` ", "format CSV", "1,2", "CSV")]
    [InlineData("-- c\nINSERT INTO t SETTINGS async_insert = 0 FORMAT TSV\r\n1\t2", "-- c\nINSERT INTO t ", "SETTINGS async_insert = 0 FORMAT TSV", "1\t2", "TSV")]
    [InlineData("INSERT INTO t ('format', \"x FORMAT y\") FORMAT JSONEachRow\n{}", "INSERT INTO t ('format', \"x FORMAT y\") ", "FORMAT JSONEachRow", "{}", "JSONEachRow")]
    public void FindsTheData(string sql, string head, string formatClause, string data, string format)
    {
        var bytes = Encoding.UTF8.GetBytes(sql);
        var scan = InsertScanner.Scan(bytes, complete: true);

        Assert.Equal(ScanKind.InsertWithData, scan.Kind);
        Assert.Equal(head, Encoding.UTF8.GetString(bytes[..scan.InfileAt]));
        Assert.Equal(formatClause, Encoding.UTF8.GetString(bytes[scan.InfileAt..scan.HeaderEnd]));
        Assert.Equal(data, Encoding.UTF8.GetString(bytes[scan.DataStart..]));
        Assert.Equal(format, scan.Format);
    }

    [Theory]
    [InlineData("SELECT 1 FORMAT CSV")]
    [InlineData("INSERT INTO t VALUES (1, {p:String})")]
    [InlineData("INSERT INTO t SELECT * FROM u FORMAT CSV")]
    [InlineData("INSERT INTO t FROM INFILE 'x' FORMAT CSV")]
    [InlineData("INSERT INTO t FORMAT CSV;")]
    public void LeavesOtherStatementsAlone(string sql)
    {
        Assert.Equal(ScanKind.Plain, InsertScanner.Scan(Encoding.UTF8.GetBytes(sql), complete: true).Kind);
    }

    [Theory]
    [InlineData("INSERT INTO t FORMAT")]
    [InlineData("INSERT INTO t FORMAT RowBin")]
    [InlineData("INSERT INTO t ('unterminated")]
    [InlineData("INS")]
    public void AsksForMoreWhenTheHeaderIsCut(string sql)
    {
        Assert.Equal(ScanKind.NeedMore, InsertScanner.Scan(Encoding.UTF8.GetBytes(sql), complete: false).Kind);
    }
}
