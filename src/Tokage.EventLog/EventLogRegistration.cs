using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tokage.EventLog;

namespace Microsoft.Extensions.Hosting;

public static class EventLogRegistration
{
    /// <summary>
    /// <see cref="IEventLog"/> on the event log named <paramref name="connectionName"/>: Kafka or Redis Streams,
    /// as its connection string says (<c>Transport=…</c>), options from <c>Tokage:EventLog</c>.
    /// </summary>
    public static void AddEventLog(this IHostApplicationBuilder builder, string connectionName)
    {
        var connection = builder.AddEventLogClient(connectionName);
        builder.Services.AddOptions<EventLogOptions>().BindConfiguration(EventLogOptions.SectionName);
        builder.Services.AddSingleton<IEventLog>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<EventLogOptions>>().Value;
            var loggers = sp.GetRequiredService<ILoggerFactory>();
            return connection.Transport switch
            {
                EventLogTransport.Kafka => new KafkaEventLog(sp.GetRequiredService<IProducer<string, byte[]>>(), connection.Endpoint, options,
                    loggers.CreateLogger<KafkaEventLog>(), sp.GetRequiredService<KafkaTopics>()),
                _ => new RedisStreamsEventLog(sp.GetRequiredKeyedService<IConnectionMultiplexer>(connectionName), options, loggers.CreateLogger<RedisStreamsEventLog>()),
            };
        });

        // The topics, made when missing and, in production, refused when not replicated: not ready until checked.
        if (connection.Transport == EventLogTransport.Kafka)
        {
            builder.Services.AddSingleton(sp => new KafkaTopics(
                () => new DependentAdminClientBuilder(sp.GetRequiredService<IProducer<string, byte[]>>().Handle).Build(),
                sp.GetRequiredService<IOptions<EventLogOptions>>().Value, sp.GetRequiredService<ILogger<KafkaTopics>>()));
            builder.Services.AddHostedService(sp => sp.GetRequiredService<KafkaTopics>());
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                "event-log-topics", sp => sp.GetRequiredService<KafkaTopics>(), HealthStatus.Unhealthy, ["ready"]));
        }

        // A Redis that does not fsync every write must not pass for the log: not ready, with the reason.
        if (connection.Transport == EventLogTransport.RedisStreams)
        {
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                "event-log-durability", sp => (RedisStreamsEventLog)sp.GetRequiredService<IEventLog>(), HealthStatus.Unhealthy, ["ready"]));
        }
    }
}
