using Tokage.Integrations.ObjectStore;

namespace Tokage.Integrations.Tests;

/// <summary>The local object store: keys are relative paths under its root, a put replaces whole, listing is by prefix.</summary>
public sealed class FileSystemObjectStoreTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "tokage-objectstore-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task APutReplacesTheWholeObjectAndLeavesNoTemporaryFileBehind()
    {
        var store = new FileSystemObjectStore(root);

        await store.PutAsync("archive/tenant=a/date=2026-12-01/hour=09/x.parquet", new byte[] { 1, 2, 3, 4 });
        await store.PutAsync("archive/tenant=a/date=2026-12-01/hour=09/x.parquet", new byte[] { 9 });
        await store.PutAsync("archive/tenant=b/date=2026-12-01/hour=09/y.parquet", new byte[] { 7 });

        Assert.Equal(new byte[] { 9 }, await store.GetAsync("archive/tenant=a/date=2026-12-01/hour=09/x.parquet"));
        Assert.Null(await store.GetAsync("archive/tenant=a/missing.parquet"));
        Assert.Equal(["archive/tenant=a/date=2026-12-01/hour=09/x.parquet"], await store.ListAsync("archive/tenant=a/"));
        Assert.Equal(2, (await store.ListAsync("archive/")).Count);
        Assert.Empty(Directory.EnumerateFiles(root, "*.tmp", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("/absolute")]
    [InlineData("a//b")]
    [InlineData("a/./b")]
    [InlineData("")]
    public async Task AKeyThatWouldLeaveTheRootIsRefused(string key)
    {
        var store = new FileSystemObjectStore(root);

        await Assert.ThrowsAsync<ArgumentException>(() => store.PutAsync(key, new byte[] { 1 }));
    }
}
