using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Tokage.Integrations.ObjectStore;

/// <summary>
/// The object store on S3 or an S3-compatible server (MinIO): a key is an object key under the bucket (and the
/// connection's optional <c>Prefix</c>). S3's PUT replaces an object atomically, which is what idempotent rewrites need.
/// </summary>
public sealed class S3ObjectStore(IAmazonS3 s3, string bucket, string prefix = "") : IObjectStore
{
    /// <summary>
    /// From <c>Provider=S3;Bucket=…</c> with optional <c>ServiceUrl</c> (MinIO and other S3-compatible servers; path-style
    /// addressing), <c>Region</c>, <c>AccessKey</c>/<c>SecretKey</c> (else the SDK's default credential chain) and <c>Prefix</c>.
    /// </summary>
    public static S3ObjectStore Create(IReadOnlyDictionary<string, string> values)
    {
        var config = new AmazonS3Config();
        var serviceUrl = values.GetValueOrDefault("ServiceUrl");
        if (serviceUrl is not null)
        {
            config.ServiceURL = serviceUrl;
            config.ForcePathStyle = true;
        }

        if (values.TryGetValue("Region", out var region))
        {
            config.AuthenticationRegion = region;
            // A region endpoint replaces the service URL: with a ServiceUrl (MinIO, a local fake) the region only signs.
            if (serviceUrl is null)
            {
                config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(region);
            }
        }

        var client = values.TryGetValue("AccessKey", out var accessKey) && values.TryGetValue("SecretKey", out var secretKey)
            ? new AmazonS3Client(new BasicAWSCredentials(accessKey, secretKey), config)
            : new AmazonS3Client(config);
        return new S3ObjectStore(client, values["Bucket"], values.TryGetValue("Prefix", out var prefix) ? prefix.Trim('/') + "/" : "");
    }

    public async Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        using var body = new MemoryStream(content.ToArray(), writable: false);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = prefix + key, InputStream = body, AutoCloseStream = false }, cancellationToken);
    }

    /// <summary>
    /// Object Lock in COMPLIANCE mode until <paramref name="retainUntil"/>: not even the account's root user can delete
    /// the version or shorten its retention. S3 asks such a PUT for a content checksum: Content-MD5 is sent.
    /// </summary>
    public async Task PutWriteOnceAsync(string key, ReadOnlyMemory<byte> content, DateTimeOffset retainUntil, CancellationToken cancellationToken = default)
    {
        using var body = new MemoryStream(content.ToArray(), writable: false);
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucket,
            Key = prefix + key,
            InputStream = body,
            AutoCloseStream = false,
            MD5Digest = Convert.ToBase64String(System.Security.Cryptography.MD5.HashData(content.Span)),
            ObjectLockMode = ObjectLockMode.Compliance,
            ObjectLockRetainUntilDate = retainUntil.UtcDateTime,
        }, cancellationToken);
    }

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        try
        {
            using var response = await s3.GetObjectAsync(bucket, prefix + key, cancellationToken);
            using var buffer = new MemoryStream();
            await response.ResponseStream.CopyToAsync(buffer, cancellationToken);
            return buffer.ToArray();
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<string>> ListAsync(string keyPrefix, CancellationToken cancellationToken = default)
    {
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = bucket, Prefix = prefix + keyPrefix };
        ListObjectsV2Response response;
        do
        {
            response = await s3.ListObjectsV2Async(request, cancellationToken);
            keys.AddRange((response.S3Objects ?? []).Select(o => o.Key[prefix.Length..]));
            request.ContinuationToken = response.NextContinuationToken;
        }
        while (response.IsTruncated == true);

        return keys.Order(StringComparer.Ordinal).ToList();
    }
}
