namespace Tokage.AuditLog.Extensions;

internal static class Extensions
{
    /// <summary>The engines this service talks to, each with its health check (so /health means ready).</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDataSource("tokage");
        builder.Services.AddHealthChecks().AddDatabaseSchemaCheck();
        builder.AddObjectStoreClient("archive");
    }
}
