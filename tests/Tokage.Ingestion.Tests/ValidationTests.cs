using System.Text.Json;
using Microsoft.Extensions.Options;
using Tokage.Ingestion.Validation;

namespace Tokage.Ingestion.Tests;

/// <summary>Every rule, through the JSON decoding and the shared validator (the gRPC path validates the same messages).</summary>
public sealed class ValidationTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly EventValidator Validator = new(Options.Create(new IngestOptions()), new FixedClock());

    private const string Good = """
        {"event_id": "req-1", "timestamp": "2026-11-20T11:59:00.120Z", "provider": "anthropic", "model": "claude-sonnet-4-5",
         "usage": {"input_tokens": 12000, "cache_read_tokens": 8000, "cache_write_tokens": 1000, "cache_write_1h_tokens": 0,
                   "output_tokens": 900, "reasoning_tokens": 300},
         "service_tier": "standard", "application": "support-bot", "project": "helpdesk", "user_id": "u-42", "team": "cx",
         "environment": "prod", "metadata": {"ticket": "T-1001"}}
        """;

    private static List<FieldProblem> Problems(string json)
    {
        using var document = JsonDocument.Parse(json);
        var parsed = NativeEventJson.Parse(document.RootElement);
        return Validator.Validate(parsed.Event, parsed.Problems);
    }

    private static string With(string replace, string by) => Good.Replace(replace, by, StringComparison.Ordinal);

    [Fact]
    public void TheDesignDocumentsEventIsValid()
    {
        Assert.Empty(Problems(Good));
        using var document = JsonDocument.Parse(Good);
        var e = NativeEventJson.Parse(document.RootElement).Event;
        Assert.Equal((12000L, 8000L, 1000L, 900L, 300L), (e.Usage.InputTokens, e.Usage.CacheReadTokens, e.Usage.CacheWriteTokens, e.Usage.OutputTokens, e.Usage.ReasoningTokens));
        Assert.Equal("T-1001", e.Metadata["ticket"]);
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 11, 59, 0, 120, TimeSpan.Zero), e.Timestamp.ToDateTimeOffset());
    }

    public static TheoryData<string, string, string, string> Rules => new()
    {
        { "event_id missing", With("\"event_id\": \"req-1\", ", ""), "event_id", "required" },
        { "event_id too long", With("\"req-1\"", $"\"{new string('x', 129)}\""), "event_id", "too_long" },
        { "event_id a number", With("\"req-1\"", "17"), "event_id", "invalid" },
        { "timestamp missing", With("\"timestamp\": \"2026-11-20T11:59:00.120Z\", ", ""), "timestamp", "required" },
        { "timestamp unparseable", With("2026-11-20T11:59:00.120Z", "yesterday"), "timestamp", "invalid" },
        { "timestamp 6 minutes ahead", With("2026-11-20T11:59:00.120Z", "2026-11-20T12:06:00Z"), "timestamp", "in_future" },
        { "timestamp 36 days old", With("2026-11-20T11:59:00.120Z", "2026-10-15T12:00:00Z"), "timestamp", "too_old" },
        { "provider missing", With("\"provider\": \"anthropic\", ", ""), "provider", "required" },
        { "model empty", With("\"claude-sonnet-4-5\"", "\"  \""), "model", "required" },
        { "negative input", With("\"input_tokens\": 12000", "\"input_tokens\": -1"), "usage.input_tokens", "negative" },
        { "fractional output", With("\"output_tokens\": 900", "\"output_tokens\": 900.5"), "usage.output_tokens", "not_integer" },
        { "count as string", With("\"output_tokens\": 900", "\"output_tokens\": \"900\""), "usage.output_tokens", "not_integer" },
        { "count beyond one call's", With("\"output_tokens\": 900", "\"output_tokens\": 9223372036854775807"), "usage.output_tokens", "too_large" },
        { "count beyond 64 bits", With("\"output_tokens\": 900", "\"output_tokens\": 1e30"), "usage.output_tokens", "not_integer" },
        { "cache beyond input", With("\"input_tokens\": 12000", "\"input_tokens\": 8500"), "usage.cache_read_tokens", "exceeds_input" },
        { "reasoning beyond output", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 901"), "usage.reasoning_tokens", "exceeds_output" },
        { "usage missing", Good[..Good.IndexOf("\"usage\"", StringComparison.Ordinal)] + "\"service_tier\": \"standard\"}", "usage", "required" },
        { "usage not an object", With("\"usage\": {", "\"usage\": 5, \"x\": {"), "usage", "invalid" },
        { "unknown tier", With("\"standard\"", "\"platinum\""), "service_tier", "unknown_value" },
        { "metadata value not a string", With("\"T-1001\"", "7"), "metadata.ticket", "invalid" },
        { "metadata value too long", With("\"T-1001\"", $"\"{new string('v', 1025)}\""), "metadata.ticket", "too_long" },
        { "too many metadata entries", With("{\"ticket\": \"T-1001\"}", "{" + string.Join(",", Enumerable.Range(0, 33).Select(i => $"\"k{i}\":\"v\"")) + "}"), "metadata", "too_many" },
        { "team too long", With("\"cx\"", $"\"{new string('t', 257)}\""), "team", "too_long" },
        { "negative audio input", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"audio_input_tokens\": -5"), "usage.audio_input_tokens", "negative" },
        { "audio cache beyond audio input", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"audio_input_tokens\": 100, \"audio_cache_read_tokens\": 101"), "usage.audio_cache_read_tokens", "exceeds_audio_input" },
        { "image cache beyond image input", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"image_cache_read_tokens\": 1"), "usage.image_cache_read_tokens", "exceeds_image_input" },
        { "audio cache beyond the cache reads", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"audio_input_tokens\": 9000, \"audio_cache_read_tokens\": 8001"), "usage.audio_cache_read_tokens", "exceeds_cache_read" },
        { "audio cache write beyond the writes", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"audio_input_tokens\": 2000, \"audio_cache_write_tokens\": 1001"), "usage.audio_cache_write_tokens", "exceeds_cache_write" },
        { "image beyond the uncached input", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"audio_input_tokens\": 2000, \"image_input_tokens\": 1001"), "usage.image_input_tokens", "exceeds_input" },
        { "audio output beyond the output", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"audio_output_tokens\": 601"), "usage.audio_output_tokens", "exceeds_output" },
        { "image output beside audio beyond the output", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"audio_output_tokens\": 500, \"image_output_tokens\": 101"), "usage.image_output_tokens", "exceeds_output" },
        { "audio seconds negative", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"audio_seconds\": -1.5"), "usage.audio_seconds", "invalid" },
        { "audio seconds as text", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"audio_seconds\": \"12\""), "usage.audio_seconds", "invalid" },
        { "audio seconds below the microsecond", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"audio_seconds\": 1.0000001"), "usage.audio_seconds", "invalid" },
        { "fractional images", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"images\": 1.5"), "usage.images", "not_integer" },
        { "negative searches", With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 300, \"web_search_queries\": -2"), "usage.web_search_queries", "negative" },
        { "reservation_id too long", With("\"team\": \"cx\"", $"\"team\": \"cx\", \"reservation_id\": \"{new string('r', 129)}\""), "reservation_id", "too_long" },
        { "reservation_id a number", With("\"team\": \"cx\"", "\"team\": \"cx\", \"reservation_id\": 7"), "reservation_id", "invalid" },
        { "a lone surrogate escape (no text)", With("\"T-1001\"", "\"T\\ud800\""), "", "invalid" },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void EachRuleNamesTheFieldAndTheCode(string rule, string json, string field, string code)
    {
        var problems = Problems(json);
        Assert.True(problems.Any(p => p.Field == field && p.Code == code), $"{rule}: got {string.Join("; ", problems.Select(p => $"{p.Field}/{p.Code}"))}");
        Assert.All(problems, p => Assert.False(string.IsNullOrWhiteSpace(p.Message)));
    }

    [Fact]
    public void TheBoundariesThemselvesAreAccepted()
    {
        Assert.Empty(Problems(With("2026-11-20T11:59:00.120Z", "2026-11-20T12:05:00Z")));
        Assert.Empty(Problems(With("2026-11-20T11:59:00.120Z", "2026-10-16T12:00:00Z")));
        Assert.Empty(Problems(With("\"req-1\"", $"\"{new string('x', 128)}\"")));
        Assert.Empty(Problems(With("\"input_tokens\": 12000", "\"input_tokens\": 9000")));
        Assert.Empty(Problems(With("\"reasoning_tokens\": 300", "\"reasoning_tokens\": 900")));
    }

    [Theory]
    [InlineData(long.MaxValue, 0)]
    [InlineData(-62_135_596_801, 0)]
    [InlineData(253_402_300_800, 0)]
    [InlineData(1_795_169_702, -1)]
    [InlineData(1_795_169_702, 1_000_000_000)]
    public void AProtobufTimestampOutsideTheCalendarIsInvalid(long seconds, int nanos)
    {
        using var document = JsonDocument.Parse(Good);
        var e = NativeEventJson.Parse(document.RootElement).Event;
        e.Timestamp = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = seconds, Nanos = nanos };
        var problem = Assert.Single(Validator.Validate(e));
        Assert.Equal(("timestamp", "invalid"), (problem.Field, problem.Code));
    }

    [Fact]
    public void AClientCostIsReadOnlyToBeIgnored()
    {
        using var document = JsonDocument.Parse(With("\"service_tier\"", "\"cost_usd\": 0.0123, \"service_tier\""));
        var parsed = NativeEventJson.Parse(document.RootElement);
        Assert.True(parsed.HadClientCost);
        Assert.Equal("0.0123", parsed.Event.ClientCostUsd);
        Assert.Empty(Validator.Validate(parsed.Event, parsed.Problems));
    }
}
