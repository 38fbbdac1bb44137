using Google.Protobuf.WellKnownTypes;
using Tokage.Contracts.V1;

namespace Tokage.Testing;

/// <summary>Log records as the ingest writes them.</summary>
public static class Logged
{
    public static LoggedUsageEvent Event(
        string tenantId, string eventId, DateTimeOffset at, string model = "test-sonnet", string provider = "anthropic",
        long input = 12_000, long cacheRead = 8_000, long cacheWrite = 1_000, long output = 900, long reasoning = 300,
        string userId = "u-42", IDictionary<string, string>? metadata = null, uint schemaVersion = 1)
    {
        var e = new TokenUsageEvent
        {
            EventId = eventId, Timestamp = Timestamp.FromDateTimeOffset(at), Provider = provider, Model = model,
            Usage = new TokenUsage { InputTokens = input, CacheReadTokens = cacheRead, CacheWriteTokens = cacheWrite, OutputTokens = output, ReasoningTokens = reasoning },
            Application = "support-bot", Project = "helpdesk", UserId = userId, Team = "cx", Environment = "prod",
        };
        if (metadata is not null)
        {
            e.Metadata.Add(metadata);
        }

        return new LoggedUsageEvent
        {
            SchemaVersion = schemaVersion, TenantId = tenantId, KeyId = "key-1", Source = "http",
            ReceivedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Event = e,
        };
    }
}
