using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Tokage.Audit;
using Tokage.AuditLog.Audit;
using Tokage.Testing;

namespace Tokage.Bench;

/// <summary>
/// The audit log's costs, each beside the same work without it in the same run: a change committed with its outbox row
/// beside the change alone (p50/p99); the drain chaining records (records/s) beside copying the same rows in the same
/// batches without hashing, cursor or chain heads; verification (records/s) beside reading the same rows alone.
/// </summary>
internal static class AuditBenchmark
{
    private const int Tenants = 20;

    public static Command CreateCommand()
    {
        var changes = new Option<int>("--changes") { Description = "Timed changes with and without their record (each).", DefaultValueFactory = _ => 2_000 };
        var records = new Option<int>("--records") { Description = "Outbox rows drained, then verified.", DefaultValueFactory = _ => 100_000 };
        var quick = new Option<bool>("--quick") { Description = "300 changes and 5,000 records: a smoke run." };
        var json = new Option<string>("--json") { Description = "Where the JSON report goes.", DefaultValueFactory = _ => ".tokage/bench/audit.json" };
        var command = new Command("audit", "A change with its audit record beside the change alone; drain and verify rates beside plain copies and reads.") { changes, records, quick, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var isQuick = parse.GetValue(quick);
            var report = new BenchReport("audit");
            await RunAsync(isQuick ? 300 : parse.GetValue(changes), isQuick ? 5_000 : parse.GetValue(records), report, cancellationToken);
            report.PrintMarkdown(Console.Out);
            await report.WriteJsonAsync(parse.GetValue(json)!);
            return 0;
        });
        return command;
    }

    private static async Task RunAsync(int changes, int records, BenchReport report, CancellationToken cancellationToken)
    {
        report.Parameter("changes", changes);
        report.Parameter("records", records);
        report.Parameter("tenants", Tenants);
        var postgres = await Progress.StepAsync("starting PostgreSQL and migrating", async () =>
        {
            var started = await PostgresProcess.StartAsync();
            await started.CreateDatabaseAsync("tokage");
            await DatabaseMigratorProcess.RunAsync(started, "tokage");
            return started;
        });
        try
        {
            await using var owner = NpgsqlDataSource.Create(postgres.ConnectionString("tokage"));
            await using var app = NpgsqlDataSource.Create(DatabaseMigratorProcess.ConnectionString(postgres, "tokage", DatabaseMigratorProcess.AppRole));
            await using var audit = NpgsqlDataSource.Create(DatabaseMigratorProcess.ConnectionString(postgres, "tokage", DatabaseMigratorProcess.AuditRole));
            await ExecuteAsync(owner, """
                CREATE TABLE bench_changes (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, body jsonb NOT NULL);
                GRANT INSERT ON bench_changes TO tokage_app;
                CREATE TABLE bench_copy (LIKE audit_outbox);
                """);

            await MeasureChangesAsync(app, changes, report, cancellationToken);
            await MeasureDrainAsync(owner, app, audit, records, report, cancellationToken);
        }
        finally
        {
            await postgres.DisposeAsync();
        }
    }

    /// <summary>One committed change (a row, as a service's would be) with its outbox row in the same transaction, beside the change alone.</summary>
    private static async Task MeasureChangesAsync(NpgsqlDataSource app, int changes, BenchReport report, CancellationToken ct)
    {
        var tenant = Guid.CreateVersion7();
        var actor = new AuditActor(AuditActor.Key, Guid.CreateVersion7().ToString(), "10.0.0.7", "bench/1.0");
        async Task ChangeAsync(bool audited)
        {
            await using var connection = await app.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var id = Guid.CreateVersion7();
            var body = new { id, name = "monthly", amount_usd = "250.00", thresholds = new[] { 50, 80, 100 } };
            await using var batch = new NpgsqlBatch(connection, transaction);
            var change = new NpgsqlBatchCommand("INSERT INTO bench_changes (id, tenant_id, body) VALUES ($1, $2, $3::jsonb)");
            change.Parameters.Add(new NpgsqlParameter { Value = id });
            change.Parameters.Add(new NpgsqlParameter { Value = tenant });
            change.Parameters.Add(new NpgsqlParameter { Value = System.Text.Json.JsonSerializer.Serialize(body) });
            batch.BatchCommands.Add(change);
            if (audited)
            {
                batch.BatchCommands.Add(AuditOutbox.Command(AuditChange.Of<object>(tenant, AuditKinds.BudgetUpdated, $"budget:{id}", body, body), actor));
            }

            await batch.ExecuteNonQueryAsync(ct);
            await transaction.CommitAsync(ct);
        }

        var (withRecord, alone) = await Progress.StepAsync($"{changes:N0} changes with their audit record and as many without", () =>
            Sampling.PairAsync(changes, warmup: 50, () => ChangeAsync(true), () => ChangeAsync(false)));
        foreach (var percentile in new[] { 50, 99 })
        {
            report.Add(new Measurement($"a committed change with its audit record, p{percentile}", Statistics.Percentile(withRecord, percentile), "ms",
                "the same change alone", Statistics.Percentile(alone, percentile)));
        }
    }

    /// <summary>The drain of <paramref name="records"/> outbox rows of 20 tenants into their chains, then their verification.</summary>
    private static async Task MeasureDrainAsync(NpgsqlDataSource owner, NpgsqlDataSource app, NpgsqlDataSource audit, int records, BenchReport report, CancellationToken ct)
    {
        var tenants = Enumerable.Range(0, Tenants).Select(_ => Guid.CreateVersion7()).ToArray();
        await Progress.StepAsync($"writing {records:N0} outbox rows", async () =>
        {
            await using var connection = await app.OpenConnectionAsync(ct);
            var actor = new AuditActor(AuditActor.Member, Guid.CreateVersion7().ToString(), "10.0.0.7", "Mozilla/5.0");
            for (var done = 0; done < records; done += 1_000)
            {
                await using var transaction = await connection.BeginTransactionAsync(ct);
                await using var batch = new NpgsqlBatch(connection, transaction);
                for (var i = done; i < Math.Min(records, done + 1_000); i++)
                {
                    batch.BatchCommands.Add(AuditOutbox.Command(AuditChange.Of<object>(tenants[i % Tenants], AuditKinds.KeyRevoked, $"key:{i}",
                        new { id = i, status = "active", scopes = new[] { "ingest", "read" } }, new { id = i, status = "revoked", scopes = new[] { "ingest", "read" } }), actor));
                }

                await batch.ExecuteNonQueryAsync(ct);
                await transaction.CommitAsync(ct);
            }
        });

        // The changes measured above left their outbox rows too: every row is drained.
        long total;
        await using (var counting = await owner.OpenConnectionAsync(ct))
        await using (var count = new NpgsqlCommand("SELECT count(*) FROM audit_outbox", counting))
        {
            total = (long)(await count.ExecuteScalarAsync(ct))!;
        }

        report.Parameter("outbox_rows", total);

        // Baseline: the same rows read and written again in the drain's batches, with nothing else (no hash, cursor, heads).
        var options = new AuditOptions();
        var copied = 0;
        var copySeconds = await Progress.StepAsync($"copying them in batches of {options.DrainBatchSize} (the baseline)", async () =>
        {
            var started = Stopwatch.GetTimestamp();
            await using var connection = await owner.OpenConnectionAsync(ct);
            for (long after = 0; ; )
            {
                await using var transaction = await connection.BeginTransactionAsync(ct);
                var rows = new List<object?[]>();
                await using (var read = new NpgsqlCommand(
                    $"SELECT id, position, tenant_id, occurred_at, kind, subject, actor_type, actor_id, actor_address, actor_user_agent, before::text, after::text FROM audit_outbox WHERE position > {after} ORDER BY position LIMIT {options.DrainBatchSize}",
                    connection, transaction))
                await using (var reader = await read.ExecuteReaderAsync(ct))
                {
                    while (await reader.ReadAsync(ct))
                    {
                        var row = new object?[reader.FieldCount];
                        reader.GetValues(row!);
                        rows.Add(row);
                    }
                }

                if (rows.Count == 0)
                {
                    break;
                }

                await using var batch = new NpgsqlBatch(connection, transaction);
                foreach (var row in rows)
                {
                    var insert = new NpgsqlBatchCommand("""
                        INSERT INTO bench_copy (id, position, tx, tenant_id, occurred_at, kind, subject, actor_type, actor_id, actor_address, actor_user_agent, before, after)
                        VALUES ($1, $2, pg_current_xact_id(), $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb)
                        """);
                    foreach (var value in row)
                    {
                        insert.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
                    }

                    batch.BatchCommands.Add(insert);
                }

                await batch.ExecuteNonQueryAsync(ct);
                await transaction.CommitAsync(ct);
                copied += rows.Count;
                after = (long)rows[^1][1]!;
            }

            return Stopwatch.GetElapsedTime(started).TotalSeconds;
        });

        var drain = new AuditDrain(audit, Options.Create(options), NullLogger<AuditDrain>.Instance);
        var drained = 0;
        var drainSeconds = await Progress.StepAsync($"draining them into {Tenants} chains", async () =>
        {
            var started = Stopwatch.GetTimestamp();
            int batch;
            while ((batch = await drain.DrainOnceAsync(ct)) > 0)
            {
                drained += batch;
            }

            return Stopwatch.GetElapsedTime(started).TotalSeconds;
        });
        if (drained != total || copied != total)
        {
            throw new InvalidOperationException($"Expected {total} rows drained and copied; drained {drained}, copied {copied}.");
        }

        report.Add(new Measurement($"drain into hash chains ({Tenants} tenants, batches of {options.DrainBatchSize})", drained / drainSeconds, "records/s",
            "the same rows copied in the same batches, no chain", copied / copySeconds));

        // Verification: every chain and the global chain recomputed, beside reading the same rows alone.
        await using var connection = await audit.OpenConnectionAsync(ct);
        List<AuditRecord> read = [];
        var readSeconds = await Sampling.MillisecondsAsync(async () => read = await AuditRecords.ReadAsync(connection, null, "true ORDER BY tenant_id, seq", _ => { }, ct)) / 1000;
        AuditVerification? verification = null;
        var verifySeconds = await Progress.StepAsync("verifying every chain", async () => await Sampling.MillisecondsAsync(async () =>
        {
            var rows = await AuditRecords.ReadAsync(connection, null, "true ORDER BY tenant_id, seq", _ => { }, ct);
            var heads = await AuditRecords.ReadHeadsAsync(connection, null, "true ORDER BY seq", _ => { }, ct);
            verification = AuditVerifier.Verify(rows, heads);
        }) / 1000);
        if (verification is not { Valid: true } || verification.Records != total || read.Count != total)
        {
            throw new InvalidOperationException($"The drained chains do not verify: {verification?.FirstBreak?.Reason}.");
        }

        report.Add(new Measurement("verify from the database (read, rehash, relink)", total / verifySeconds, "records/s",
            "reading the same records alone", total / readSeconds));
    }

    private static async Task ExecuteAsync(NpgsqlDataSource database, string sql)
    {
        await using var connection = await database.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
