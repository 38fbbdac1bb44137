namespace Tokage.EventProcessor.Extensions;

internal static class Extensions
{
    /// <summary>The engines this service talks to, each with its health check (so /health means ready).</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient("redis");
        builder.AddEventLogClient("events");
        // The processor writes the usage store, so it owns its schema: migrations run at its start.
        builder.AddUsageStore("analytics", ownsSchema: true);
        builder.AddObjectStoreClient("archive");
    }
}
