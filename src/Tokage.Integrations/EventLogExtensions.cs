using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Tokage.Integrations;

namespace Microsoft.Extensions.Hosting;

/// <summary>The transports the durable event log can run on.</summary>
public enum EventLogTransport
{
    /// <summary>Kafka or Redpanda (production, and whenever a broker or container runtime exists).</summary>
    Kafka,

    /// <summary>Redis Streams on an AOF <c>appendfsync always</c> server (the no-container local default).</summary>
    RedisStreams,
}

/// <summary>
/// The event log's connection string: <c>Transport=Kafka;BootstrapServers=host:9092</c> or
/// <c>Transport=RedisStreams;Redis=host:6379,password=…</c>.
/// </summary>
public sealed record EventLogConnection(EventLogTransport Transport, string Endpoint)
{
    public static EventLogConnection Parse(string connectionString)
    {
        var values = KeyValueConnectionString.Parse(connectionString);
        var transport = values.Required("Transport", "Event log");
        return transport.ToLowerInvariant() switch
        {
            "kafka" => new(EventLogTransport.Kafka, values.Required("BootstrapServers", "Event log")),
            "redisstreams" => new(EventLogTransport.RedisStreams, values.Required("Redis", "Event log")),
            _ => throw new FormatException($"Event log transport '{transport}' is not one of Kafka, RedisStreams."),
        };
    }
}

public static class EventLogExtensions
{
    /// <summary>
    /// Connects the service to the event log named <paramref name="connectionName"/>: a durable Kafka
    /// producer or a Redis connection (keyed by the same name), each with its health check.
    /// </summary>
    public static EventLogConnection AddEventLogClient(this IHostApplicationBuilder builder, string connectionName)
    {
        var connectionString = builder.Configuration.GetConnectionString(connectionName)
            ?? throw new InvalidOperationException($"Event log: no connection string 'ConnectionStrings:{connectionName}'.");
        var connection = EventLogConnection.Parse(connectionString);

        builder.Services.AddSingleton(connection);
        switch (connection.Transport)
        {
            case EventLogTransport.Kafka:
                builder.AddKafkaProducer(connectionName, settings => settings.ConnectionString = connection.Endpoint);
                break;
            case EventLogTransport.RedisStreams:
                // The log checks that the server fsyncs every write (CONFIG GET), an admin command. While Redis is away,
                // appends fail at once instead of waiting in the client's backlog: an append the caller was told failed
                // (503) must not be written later, when the connection comes back.
                builder.AddKeyedRedisClient(connectionName, settings => settings.ConnectionString = connection.Endpoint, options =>
                {
                    options.AllowAdmin = true;
                    options.BacklogPolicy = StackExchange.Redis.BacklogPolicy.FailFast;
                });
                break;
        }

        return connection;
    }
}
