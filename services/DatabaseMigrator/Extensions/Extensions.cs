using Tokage.DatabaseMigrator.Migration;

namespace Tokage.DatabaseMigrator.Extensions;

internal static class Extensions
{
    /// <summary>The migration, retried while PostgreSQL is unreachable, and the run that ends the process when it is done.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseRoles>()
            .BindConfiguration(DatabaseRoles.SectionName)
            .Validate(roles => roles.Problem() is null, DatabaseRoles.ValidationMessage)
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<DatabaseMigration>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DatabaseMigration>());
        builder.Services.AddHostedService<MigrationRun>();
    }
}
