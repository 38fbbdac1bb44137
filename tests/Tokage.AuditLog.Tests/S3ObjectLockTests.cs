using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tokage.Audit;
using Tokage.Integrations.ObjectStore;

namespace Tokage.AuditLog.Tests;

/// <summary>
/// The S3 path of sealing, through AWSSDK.S3 against a local S3-compatible fake that records each request: a sealed
/// segment is a PUT with Object Lock in COMPLIANCE mode, its retain-until date and a Content-MD5 of its bytes.
/// </summary>
public sealed class S3ObjectLockTests
{
    [Fact]
    public async Task ASealedSegmentIsPutWithComplianceLockAndRetention()
    {
        var requests = new ConcurrentQueue<(string Method, string Path, Dictionary<string, string> Headers, byte[] Body)>();
        await using var s3 = await LocalWebServer.StartAsync(app => app.Map("/{**path}", async (HttpContext http) =>
        {
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer);
            var headers = http.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
            requests.Enqueue((http.Request.Method, http.Request.Path.Value!, headers, Decode(headers, buffer.ToArray())));
            http.Response.Headers.ETag = "\"" + Convert.ToHexStringLower(MD5.HashData(buffer.ToArray())) + "\"";
            return Results.Ok();
        }));

        var store = S3ObjectStore.Create(new Dictionary<string, string>
        {
            ["ServiceUrl"] = s3.Address.ToString(), ["Bucket"] = "tokage-audit", ["AccessKey"] = "test", ["SecretKey"] = "test-secret", ["Region"] = "us-east-1",
        });
        var start = new DateTimeOffset(2026, 12, 4, 9, 0, 0, TimeSpan.Zero);
        var record = new AuditRecord(1, Guid.CreateVersion7(), 0, Guid.CreateVersion7(), start.AddMinutes(5), start.AddMinutes(5), "key.created", "key:1",
            new AuditActor(AuditActor.Operator, "admin-token"), null, CanonicalJson.Parse("""{"name":"ci"}"""), "", "").Chained(1, AuditRecord.Genesis);
        var head = new AuditHead(0, record.TenantId, 1, record.Hash, record.RecordedAt, "", "").Chained(1, AuditRecord.Genesis);
        var segment = new AuditSegment(start, start.AddHours(1), [record], [head]);
        var bytes = segment.ToBytes();
        var retainUntil = start.AddYears(7);

        await store.PutWriteOnceAsync(AuditSegment.KeyOf(start), bytes, retainUntil);

        var put = Assert.Single(requests, r => r.Method == "PUT");
        Assert.Equal("/tokage-audit/audit/2026/12/04/09-00-00.jsonl", put.Path);
        Assert.Equal("COMPLIANCE", put.Headers["x-amz-object-lock-mode"]);
        Assert.Equal(retainUntil.UtcDateTime, DateTime.Parse(put.Headers["x-amz-object-lock-retain-until-date"], null, System.Globalization.DateTimeStyles.AdjustToUniversal));
        Assert.Equal(Convert.ToBase64String(MD5.HashData(bytes)), put.Headers["content-md5"]);
        Assert.Equal(bytes, put.Body);
        Assert.True(AuditArchive.Verify([("segment", put.Body)]).Valid);
    }

    /// <summary>The body as sent, or, when the SDK streamed it as aws-chunked (a trailing checksum), its chunks put back together.</summary>
    private static byte[] Decode(Dictionary<string, string> headers, byte[] body)
    {
        if (!headers.TryGetValue("content-encoding", out var encoding) || !encoding.Contains("aws-chunked", StringComparison.Ordinal))
        {
            return body;
        }

        using var decoded = new MemoryStream();
        var position = 0;
        while (true)
        {
            var lineEnd = IndexOf(body, position);
            var size = Convert.ToInt32(Encoding.ASCII.GetString(body, position, lineEnd - position).Split(';')[0], 16);
            position = lineEnd + 2;
            if (size == 0)
            {
                return decoded.ToArray();
            }

            decoded.Write(body, position, size);
            position += size + 2;
        }
    }

    private static int IndexOf(byte[] body, int from)
    {
        for (var i = from; i < body.Length - 1; i++)
        {
            if (body[i] == '\r' && body[i + 1] == '\n')
            {
                return i;
            }
        }

        throw new FormatException("An aws-chunked body without a chunk line.");
    }
}
