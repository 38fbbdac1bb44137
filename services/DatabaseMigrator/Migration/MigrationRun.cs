namespace Tokage.DatabaseMigrator.Migration;

/// <summary>
/// Ends the process once the migration is done (exit code 0), or with exit code 1 when it failed for good or did not
/// finish within <c>Tokage:Database:MigrationDeadline</c> (default 5 minutes): what the AppHost's WaitForCompletion
/// and a Kubernetes Job go by.
/// </summary>
internal sealed class MigrationRun(DatabaseMigration migration, IConfiguration configuration, IHostApplicationLifetime lifetime, ILogger<MigrationRun> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var deadline = configuration.GetValue("Tokage:Database:MigrationDeadline", TimeSpan.FromMinutes(5));
        Environment.ExitCode = 1;
        try
        {
            await migration.Done.WaitAsync(deadline, stoppingToken);
            Environment.ExitCode = 0;
        }
        catch (TimeoutException)
        {
            logger.LogCritical("The database was not migrated within {Deadline}; see the warnings above.", deadline);
            Environment.ExitCode = 1;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogCritical(ex, "The database migration failed.");
            Environment.ExitCode = 1;
        }
        finally
        {
            lifetime.StopApplication();
        }
    }
}
