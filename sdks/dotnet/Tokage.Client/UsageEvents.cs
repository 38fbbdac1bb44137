using Microsoft.Extensions.AI;
using Tokage.Contracts.V1;

namespace Tokage.Client;

/// <summary>
/// A metered call as a Tokage event. Counts follow Tokage's convention: input counts every prompt token, cached ones
/// included, and output every generated token, reasoning included — as Microsoft.Extensions.AI's <see cref="UsageDetails"/>
/// reports them for OpenAI. The event id is the provider's response id where there is one (a retried call is then one
/// event), else a UUIDv7.
/// </summary>
public static class UsageEvents
{
    /// <summary>Metadata saying why a call is unpriced; <see cref="UsageMissing"/> for a call whose provider reported no usage.</summary>
    public const string UnpricedReasonKey = "tokage.unpriced_reason";

    /// <summary>A call whose provider reported no usage (a stream that ended without it): Tokage stores it unpriced, as such.</summary>
    public const string UsageMissing = "usage_missing";

    /// <summary>Keys of <see cref="ChatOptions.AdditionalProperties"/> that attribute one call (they win over the ambient scope).</summary>
    public const string CustomerProperty = "tokage.customer", UserProperty = "tokage.user", TeamProperty = "tokage.team",
        ProjectProperty = "tokage.project", ApplicationProperty = "tokage.application", ReservationProperty = "tokage.reservation_id";

    /// <summary>The event of one call: its response id, provider, model and usage (null: the provider reported none), attributed by the scope and the options' properties.</summary>
    public static TokenUsageEvent From(string? responseId, string? provider, string? model, UsageDetails? usage, AdditionalPropertiesDictionary? properties)
    {
        var e = new TokenUsageEvent
        {
            EventId = responseId is { Length: > 0 and <= 128 } ? responseId : Guid.CreateVersion7().ToString(),
            Provider = ProviderName(provider),
            Model = model ?? "",
            Usage = usage is null ? new TokenUsage() : Counts(usage),
        };
        if (usage is null)
        {
            // Visible, never silently free: the call happened and its usage is unknown.
            e.Metadata[UnpricedReasonKey] = UsageMissing;
        }

        var attribution = (TokageScope.Current ?? new TokageAttribution()).With(FromProperties(properties));
        e.Customer = attribution.Customer ?? "";
        e.UserId = attribution.User ?? "";
        e.Team = attribution.Team ?? "";
        e.Project = attribution.Project ?? "";
        e.Application = attribution.Application ?? "";
        e.ReservationId = attribution.ReservationId ?? "";
        return e;
    }

    private static TokenUsage Counts(UsageDetails usage)
    {
        long Additional(string key) => usage.AdditionalCounts is { } counts && counts.TryGetValue(key, out var value) ? value : 0;
        long EndingWith(string suffix) => usage.AdditionalCounts?.Where(c => c.Key.EndsWith(suffix, StringComparison.Ordinal)).Sum(c => c.Value) ?? 0;

        // Anthropic's adapter counts cache writes inside the input and names them apart (all writes; the 1-hour ones
        // where the response splits them).
        var cacheWrites = Additional("CacheCreationInputTokens");
        var oneHourWrites = Math.Min(cacheWrites, EndingWith("Ephemeral1hInputTokens"));
        return new TokenUsage
        {
            InputTokens = usage.InputTokenCount ?? 0,
            OutputTokens = usage.OutputTokenCount ?? 0,
            CacheReadTokens = usage.CachedInputTokenCount ?? 0,
            CacheWriteTokens = cacheWrites - oneHourWrites,
            CacheWrite1HTokens = oneHourWrites,
            ReasoningTokens = usage.ReasoningTokenCount ?? 0,
            // Where Microsoft.Extensions.AI's OpenAI adapter puts the audio parts.
            AudioInputTokens = Additional("InputTokenDetails.AudioTokenCount"),
            AudioOutputTokens = Additional("OutputTokenDetails.AudioTokenCount"),
        };
    }

    private static TokageAttribution FromProperties(AdditionalPropertiesDictionary? properties)
    {
        string? Get(string key) => properties is not null && properties.TryGetValue(key, out var value) ? value?.ToString() : null;
        return new TokageAttribution(Get(CustomerProperty), Get(UserProperty), Get(TeamProperty), Get(ProjectProperty), Get(ApplicationProperty), Get(ReservationProperty));
    }

    /// <summary>The provider as the client names it, lower-cased; Tokage reads the families (azure.ai.openai, gcp.gemini, …) itself.</summary>
    public static string ProviderName(string? provider) => provider?.Trim().ToLowerInvariant() ?? "";
}
