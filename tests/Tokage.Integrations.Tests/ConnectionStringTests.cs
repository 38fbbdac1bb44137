using Microsoft.Extensions.Hosting;

namespace Tokage.Integrations.Tests;

public class ConnectionStringTests
{
    [Fact]
    public void Event_log_names_its_transport()
    {
        Assert.Equal(new EventLogConnection(EventLogTransport.Kafka, "b1:9092,b2:9092"),
            EventLogConnection.Parse("Transport=Kafka;BootstrapServers=b1:9092,b2:9092"));
        // A Redis configuration string keeps its own commas and '=' signs.
        Assert.Equal(new EventLogConnection(EventLogTransport.RedisStreams, "localhost:6379,password=a=b"),
            EventLogConnection.Parse("Transport=RedisStreams;Redis=localhost:6379,password=a=b"));
    }

    [Theory]
    [InlineData("BootstrapServers=b1:9092", "missing 'Transport='")]
    [InlineData("Transport=Kafka", "missing 'BootstrapServers='")]
    [InlineData("Transport=Nats;Url=x", "'Nats' is not one of Kafka, RedisStreams")]
    public void Event_log_errors_say_what_is_wrong(string connectionString, string expected)
    {
        var error = Assert.Throws<FormatException>(() => EventLogConnection.Parse(connectionString));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Object_store_providers()
    {
        var fileSystem = ObjectStoreConnection.Parse("Provider=FileSystem;Path=/var/tokage/archive");
        Assert.Equal(ObjectStoreConnection.FileSystem, fileSystem.Provider);
        Assert.Equal("/var/tokage/archive", fileSystem.Values["path"]);

        var s3 = ObjectStoreConnection.Parse("Provider=S3;ServiceUrl=http://minio:9000;Bucket=tokage;AccessKey=a;SecretKey=b");
        Assert.Equal(ObjectStoreConnection.S3, s3.Provider);
        Assert.Throws<FormatException>(() => ObjectStoreConnection.Parse("Provider=S3;ServiceUrl=http://minio:9000"));
    }
}
