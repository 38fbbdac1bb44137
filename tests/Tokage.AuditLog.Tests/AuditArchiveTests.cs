using System.Text;
using Npgsql;
using Tokage.Audit;

namespace Tokage.AuditLog.Tests;

/// <summary>Sealed segments: write-once files that verify alone (no service, no database), and an edit inside one is found at its record.</summary>
[Collection(AuditCollection.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class AuditArchiveTests(AuditFixture fixture)
{
    [Fact]
    public async Task SealedSegmentsVerifyFromTheArchiveAloneAndAnEditIsFoundThere()
    {
        var tenant = (string)(await fixture.Stack.CreateTenantAsync("audit-archive"))["tenant_id"]!;
        await fixture.Stack.PostAsync($"/v1/tenants/{tenant}/keys", new { name = "archived-key" });
        var records = await fixture.RecordsAsync(tenant);
        Assert.Equal(3, records.Count);

        // Segments are ten seconds long here and sealed a second after they end: wait until every record is in one.
        await ControlPlaneStack.EventuallyAsync(async () =>
            await ScalarAsync<long>("SELECT coalesce(sum(records), 0) FROM audit_segments") == await ScalarAsync<long>("SELECT count(*) FROM audit_records"),
            TimeSpan.FromSeconds(100), "every record sealed");
        Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM audit_segments WHERE retain_until <> starts_at + interval '7 years'"));

        var files = Directory.GetFiles(fixture.ArchivePath, "*.jsonl", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        Assert.All(files, file => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(file)));

        // From the sealed objects alone, the same records and links the database holds.
        var fromArchive = await AuditArchive.VerifyDirectoryAsync(fixture.ArchivePath);
        Assert.True(fromArchive.Valid, fromArchive.FirstBreak?.Reason);
        Assert.Equal(await ScalarAsync<long>("SELECT count(*) FROM audit_records"), fromArchive.Records);
        Assert.Equal(await ScalarAsync<long>("SELECT count(*) FROM audit_heads"), fromArchive.Heads);
        var cli = await CliProcess.RunAsync(["audit", "verify", "--from-archive", fixture.ArchivePath]);
        Assert.True(cli.ExitCode == 0, cli.Stdout + cli.Stderr);
        Assert.StartsWith("Valid (sealed objects", cli.Stdout, StringComparison.Ordinal);

        // And from the database, through the service, with the operator's token.
        var online = await CliProcess.RunAsync(["audit", "verify", "--audit-url", fixture.AuditLog.HttpUri.ToString(), "--admin-token", ControlPlaneStack.AdminToken, "--json"]);
        Assert.True(online.ExitCode == 0, online.Stdout + online.Stderr);
        Assert.Contains("\"valid\": true", online.Stdout, StringComparison.Ordinal);

        // A copy with one record's diff edited in its sealed object: found at that record, from the archive alone.
        var copy = Path.Combine(Path.GetTempPath(), "tokage-audit-copy-" + Guid.NewGuid().ToString("N"));
        try
        {
            foreach (var file in files)
            {
                var target = Path.Combine(copy, Path.GetRelativePath(fixture.ArchivePath, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
                File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            var edited = Directory.GetFiles(copy, "*.jsonl", SearchOption.AllDirectories).Single(f => File.ReadAllText(f).Contains("\"archived-key\"", StringComparison.Ordinal));
            await File.WriteAllTextAsync(edited, (await File.ReadAllTextAsync(edited)).Replace("\"archived-key\"", "\"renamed-key\"", StringComparison.Ordinal), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            var tampered = await AuditArchive.VerifyDirectoryAsync(copy);
            Assert.False(tampered.Valid);
            Assert.Equal(tenant, tampered.FirstBreak!.Chain);
            Assert.Equal(3, tampered.FirstBreak.Seq);
            Assert.Equal((long)records[2]["id"]!, tampered.FirstBreak.RecordId);
            var refused = await CliProcess.RunAsync(["audit", "verify", "--from-archive", copy]);
            Assert.True(refused.ExitCode == 2, refused.Stdout + refused.Stderr);
            Assert.Contains($"BROKEN (sealed objects in {copy}): chain {tenant}, at 3", refused.Stdout, StringComparison.Ordinal);

            // A whole line removed: the chain is missing a record there.
            var lines = (await File.ReadAllLinesAsync(edited)).Where(l => !l.Contains("\"renamed-key\"", StringComparison.Ordinal));
            await File.WriteAllLinesAsync(edited, lines);
            var cut = await AuditArchive.VerifyDirectoryAsync(copy);
            Assert.False(cut.Valid);
            Assert.Contains("missing", cut.FirstBreak!.Reason, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = await fixture.Owner.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
