using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Tokage.Contracts.V1;

namespace Tokage.Testing.Fuzz;

/// <summary>
/// Bad inputs for <c>tokage.v1.IngestService</c>: every rule broken on an otherwise valid message, bytes that are
/// not the message (garbage, cuts, flips, wrong wire types, strings that are not UTF-8), batch and stream limits, and
/// bad keys. Messages travel as raw bytes, so they can be anything.
/// </summary>
public static class NativeGrpcCorpus
{
    public const string Service = "tokage.v1.IngestService";

    // Replaced, byte for byte and at the same length, by invalid UTF-8 in the serialized message.
    private const string Utf8Marker = "UTF8-MARKER";

    /// <summary>Bytes that do not decode as the method's message: INVALID_ARGUMENT, like a message that breaks a rule.</summary>
    private static readonly FuzzExpectation Undecodable = FuzzExpectation.Grpc(StatusCode.InvalidArgument);

    private static readonly FuzzExpectation InvalidArgument = FuzzExpectation.Grpc(StatusCode.InvalidArgument);

    public static TokenUsageEvent ValidEvent(string eventId, DateTimeOffset now) => new()
    {
        EventId = eventId,
        Timestamp = Timestamp.FromDateTimeOffset(now.AddMinutes(-1)),
        Provider = "anthropic",
        Model = "claude-sonnet-4-5",
        Usage = new TokenUsage { InputTokens = 12_000, CacheReadTokens = 8_000, CacheWriteTokens = 1_000, OutputTokens = 900, ReasoningTokens = 300 },
        ServiceTier = "standard", Application = "support-bot", Project = "helpdesk", UserId = "u-42", Team = "cx", Environment = "prod",
        Metadata = { ["ticket"] = "T-1001" },
    };

    public static IEnumerable<FuzzCase> Ingest(FuzzSettings settings)
    {
        var ids = new FuzzEventIds("fz-grpc");
        var endpoint = FuzzEndpoints.GrpcIngest;
        FuzzCase Case(string kind, string name, byte[] message, FuzzExpectation expect) =>
            new(endpoint, kind, name, Unary("Ingest", message, GrpcCases.ValidKey), expect);

        foreach (var (kind, name, message) in BadEvents(ids, settings.Now))
        {
            yield return Case(kind, name, message(), InvalidArgument);
        }

        foreach (var (kind, name, bytes, expect) in NotTheMessage(() => ValidEvent(ids.Next(), settings.Now).ToByteArray(), ClassifyEvent, settings, endpoint))
        {
            yield return Case(kind, name, bytes, expect);
        }

        yield return Case("oversized message", "a valid event with an 11 MiB metadata value", Oversized(ValidEvent(ids.Next(), settings.Now)), FuzzExpectation.Grpc(StatusCode.ResourceExhausted));

        foreach (var c in GrpcCases.BadKeys(endpoint, metadata => Unary("Ingest", ValidEvent(ids.Next(), settings.Now).ToByteArray(), metadata), settings))
        {
            yield return c;
        }

        foreach (var c in GrpcCases.BadCompression(endpoint, $"/{Service}/Ingest", ValidEvent(ids.Next(), settings.Now).ToByteArray()))
        {
            yield return c;
        }
    }

    public static IEnumerable<FuzzCase> IngestBatch(FuzzSettings settings)
    {
        var ids = new FuzzEventIds("fz-grpc-batch");
        var endpoint = FuzzEndpoints.GrpcIngestBatch;
        FuzzCase Case(string kind, string name, byte[] message, FuzzExpectation expect) =>
            new(endpoint, kind, name, Unary("IngestBatch", message, GrpcCases.ValidKey), expect);
        byte[] ValidBatch(int count) => BatchOf(Enumerable.Range(0, count).Select(_ => ValidEvent(ids.Next(), settings.Now).ToByteArray()));

        foreach (var (kind, name, message) in BadEvents(ids, settings.Now))
        {
            var batch = BatchOf([message()]);
            yield return Case(kind, name + " (the batch's only event)", batch, InvalidArgument);
        }

        var bad = BadEvents(ids, settings.Now).ToList();
        var mixing = FuzzBytes.RandomFor(settings.Seed, endpoint + "/mixed");
        for (var i = 0; i < settings.RandomCasesPerKind; i++)
        {
            var picked = Enumerable.Range(0, mixing.Next(2, 20)).Select(_ => bad[mixing.Next(bad.Count)]).ToList();
            // Each breaks a rule (or does not decode), so the whole call is INVALID_ARGUMENT.
            yield return Case("every event invalid", $"{picked.Count} events, each with one mistake (#{i})", BatchOf(picked.Select(m => m.Message())), InvalidArgument);
        }

        foreach (var (kind, name, bytes, expect) in NotTheMessage(() => ValidBatch(2), ClassifyBatch, settings, endpoint))
        {
            yield return Case(kind, name, bytes, expect);
        }

        // Every rejection cannot ride in the trailers, which clients cap: the answer must still arrive.
        yield return Case("every event invalid", "1,000 events, each with a 128-character id and negative input tokens",
            BatchOf(Enumerable.Range(0, 1_000).Select(i => With(ValidEvent($"{i:D6}-{new string('x', 121)}", settings.Now), e => e.Usage.InputTokens = -1).ToByteArray())), InvalidArgument);
        yield return Case("empty batch", "no events", [], InvalidArgument);
        yield return Case("empty batch", "only unknown fields", GrpcCases.Field(99, WireFormat.WireType.Varint, [0x01]), InvalidArgument);
        yield return Case("oversized batch", "1,001 valid events", ValidBatch(1_001), FuzzExpectation.Grpc(StatusCode.ResourceExhausted));
        yield return Case("oversized batch", "10,000 valid events", ValidBatch(10_000), FuzzExpectation.Grpc(StatusCode.ResourceExhausted));
        yield return Case("oversized message", "a valid event with an 11 MiB metadata value", BatchOf([Oversized(ValidEvent(ids.Next(), settings.Now))]), FuzzExpectation.Grpc(StatusCode.ResourceExhausted));

        foreach (var c in GrpcCases.BadKeys(endpoint, metadata => Unary("IngestBatch", ValidBatch(2), metadata), settings))
        {
            yield return c;
        }

        foreach (var c in GrpcCases.BadCompression(endpoint, $"/{Service}/IngestBatch", ValidBatch(2)))
        {
            yield return c;
        }
    }

    public static IEnumerable<FuzzCase> IngestStream(FuzzSettings settings)
    {
        var ids = new FuzzEventIds("fz-grpc-stream");
        var endpoint = FuzzEndpoints.GrpcIngestStream;
        FuzzCase Case(string kind, string name, IReadOnlyList<byte[]> messages, FuzzExpectation expect) =>
            new(endpoint, kind, name, Stream(messages, GrpcCases.ValidKey), expect);
        byte[] Valid() => ValidEvent(ids.Next(), settings.Now).ToByteArray();

        foreach (var (kind, name, message) in BadEvents(ids, settings.Now))
        {
            var messages = new[] { message() };
            yield return Case(kind, name + " (the stream's only event)", messages, InvalidArgument);
        }

        var bad = BadEvents(ids, settings.Now).ToList();
        var mixing = FuzzBytes.RandomFor(settings.Seed, endpoint + "/mixed");
        for (var i = 0; i < settings.RandomCasesPerKind; i++)
        {
            var messages = Enumerable.Range(0, mixing.Next(2, 20)).Select(_ => bad[mixing.Next(bad.Count)].Message()).ToList();
            yield return Case("every event invalid", $"{messages.Count} events, each with one mistake (#{i})", messages, InvalidArgument);
        }

        // Bytes that are not an event, alone and after valid events: nothing of the call may be stored.
        foreach (var (kind, name, bytes, expect) in NotTheMessage(Valid, ClassifyEvent, settings, endpoint))
        {
            yield return Case(kind, name, [bytes], expect);
            if (!Decodes(bytes))
            {
                yield return Case(kind, name + ", after three valid events", [Valid(), Valid(), Valid(), bytes], expect);
            }
        }

        yield return Case("every event invalid", "1,000 events, each with a 128-character id and negative input tokens",
            Enumerable.Range(0, 1_000).Select(i => With(ValidEvent($"{i:D6}-{new string('x', 121)}", settings.Now), e => e.Usage.InputTokens = -1).ToByteArray()).ToList(), InvalidArgument);
        yield return Case("empty stream", "no messages", [], InvalidArgument);
        yield return Case("empty stream", "three empty messages", [[], [], []], InvalidArgument);
        yield return Case("oversized stream", "1,001 valid events", Enumerable.Range(0, 1_001).Select(_ => Valid()).ToList(), FuzzExpectation.Grpc(StatusCode.ResourceExhausted));
        yield return Case("oversized stream", "10,000 valid events", Enumerable.Range(0, 10_000).Select(_ => Valid()).ToList(), FuzzExpectation.Grpc(StatusCode.ResourceExhausted));
        yield return Case("oversized message", "a valid event, then one with an 11 MiB metadata value", [Valid(), Oversized(ValidEvent(ids.Next(), settings.Now))], FuzzExpectation.Grpc(StatusCode.ResourceExhausted));
        yield return Case("oversized stream", "11 events of 1 MiB each (each under the message limit, 11 MiB in all)",
            Enumerable.Range(0, 11).Select(_ => With(ValidEvent(ids.Next(), settings.Now), e => e.Metadata["ticket"] = new string('t', 1024 * 1024)).ToByteArray()).ToList(),
            FuzzExpectation.Grpc(StatusCode.ResourceExhausted));

        // The key is checked before any message is held: without one, a stream is refused for that, whatever it carries.
        yield return new(endpoint, "missing key", "no key, and 1,001 valid events", Stream(Enumerable.Range(0, 1_001).Select(_ => Valid()).ToList(), []),
            FuzzExpectation.Grpc(StatusCode.Unauthenticated));

        foreach (var c in GrpcCases.BadKeys(endpoint, metadata => Stream([Valid(), Valid()], metadata), settings))
        {
            yield return c;
        }

        foreach (var c in GrpcCases.BadCompression(endpoint, $"/{Service}/IngestStream", Valid()))
        {
            yield return c;
        }
    }

    /// <summary>One mistake on a valid event each, as bytes (<c>Message()</c> gives a fresh event id each call).</summary>
    private static IEnumerable<(string Kind, string Name, Func<byte[]> Message)> BadEvents(FuzzEventIds ids, DateTimeOffset now)
    {
        (string, string, Func<byte[]>) Edit(string kind, string name, Action<TokenUsageEvent> edit) =>
            (kind, name, () => With(ValidEvent(ids.Next(), now), edit).ToByteArray());

        // Counts: int64 on the wire, so negative ones can be sent.
        foreach (var (name, set) in Counts)
        {
            yield return Edit("negative tokens", $"usage.{name} = -1", e => set(e.Usage, -1));
            yield return Edit("negative tokens", $"usage.{name} = long.MinValue", e => set(e.Usage, long.MinValue));
        }

        yield return Edit("cache > input", "cache read + writes one above input", e => e.Usage.InputTokens = 8_999);
        yield return Edit("cache > input", "1-hour cache writes above input", e => (e.Usage.InputTokens, e.Usage.CacheReadTokens, e.Usage.CacheWriteTokens, e.Usage.CacheWrite1HTokens) = (10, 0, 0, 11));
        yield return Edit("cache > input", "cache counts that overflow a long when summed", e =>
            (e.Usage.InputTokens, e.Usage.CacheReadTokens, e.Usage.CacheWriteTokens) = (long.MaxValue, long.MaxValue, long.MaxValue));
        yield return Edit("reasoning > output", "reasoning one above output", e => e.Usage.ReasoningTokens = 901);
        yield return Edit("reasoning > output", "reasoning without output", e => (e.Usage.OutputTokens, e.Usage.ReasoningTokens) = (0, 1));

        yield return Edit("timestamp in the future", "10 minutes ahead", e => e.Timestamp = Timestamp.FromDateTimeOffset(now.AddMinutes(10)));
        yield return Edit("timestamp in the future", "9999-12-31T23:59:59Z", e => e.Timestamp = new Timestamp { Seconds = 253_402_300_799 });
        yield return Edit("timestamp too old", "40 days ago", e => e.Timestamp = Timestamp.FromDateTimeOffset(now.AddDays(-40)));
        yield return Edit("timestamp too old", "the Unix epoch", e => e.Timestamp = new Timestamp());
        yield return Edit("timestamp too old", "0001-01-01T00:00:00Z", e => e.Timestamp = new Timestamp { Seconds = -62_135_596_800 });

        // Timestamps the wire allows and no calendar has (google.protobuf.Timestamp's documented range and nanos).
        foreach (var (name, timestamp) in new (string, Func<Timestamp>)[]
        {
            ("seconds = long.MaxValue", () => new Timestamp { Seconds = long.MaxValue }),
            ("seconds = long.MinValue", () => new Timestamp { Seconds = long.MinValue }),
            ("the year 10000", () => new Timestamp { Seconds = 253_402_300_800 }),
            ("before the year 1", () => new Timestamp { Seconds = -62_135_596_801 }),
            ("nanos = -1", () => new Timestamp { Seconds = now.ToUnixTimeSeconds() - 60, Nanos = -1 }),
            ("nanos = 1,000,000,000", () => new Timestamp { Seconds = now.ToUnixTimeSeconds() - 60, Nanos = 1_000_000_000 }),
            ("nanos = int.MaxValue", () => new Timestamp { Seconds = now.ToUnixTimeSeconds() - 60, Nanos = int.MaxValue }),
        })
        {
            yield return Edit("invalid timestamp", $"timestamp {name}", e => e.Timestamp = timestamp());
        }

        yield return Edit("missing field", "no event_id", e => e.EventId = "");
        yield return Edit("missing field", "event_id whitespace", e => e.EventId = " \t\n ");
        yield return Edit("missing field", "no timestamp", e => e.Timestamp = null);
        yield return Edit("missing field", "no provider", e => e.Provider = "");
        yield return Edit("missing field", "provider whitespace", e => e.Provider = "   ");
        yield return Edit("missing field", "no model", e => e.Model = "");
        yield return Edit("missing field", "no usage", e => e.Usage = null);
        yield return ("missing field", "an empty message", () => []);
        yield return Edit("unknown value", "service_tier 'premium'", e => e.ServiceTier = "premium");

        yield return Edit("over-long", "event_id of 129 characters", e => e.EventId = new string('e', 129));
        yield return Edit("over-long", "event_id of 65 emoji (130 UTF-16 units)", e => e.EventId = string.Concat(Enumerable.Repeat("\U0001F525", 65)));
        yield return Edit("over-long", "event_id of 100,000 characters", e => e.EventId = new string('e', 100_000));
        foreach (var (name, set) in Names)
        {
            yield return Edit("over-long", $"{name} of 257 characters", e => set(e, new string('n', 257)));
        }

        yield return Edit("too many metadata entries", "33 entries", e => e.Metadata.Add(Enumerable.Range(0, 33).ToDictionary(i => $"k{i}", _ => "v")));
        yield return Edit("too many metadata entries", "10,000 entries", e => e.Metadata.Add(Enumerable.Range(0, 10_000).ToDictionary(i => $"k{i}", _ => "v")));
        yield return Edit("over-long", "a metadata key of 65 characters", e => e.Metadata[new string('k', 65)] = "v");
        yield return Edit("invalid metadata", "an empty metadata key", e => e.Metadata[""] = "v");
        yield return Edit("over-long", "a metadata value of 1,025 characters", e => e.Metadata["ticket"] = new string('v', 1_025));

        // Strings that are not UTF-8, which proto3 forbids in string fields: the marker's bytes swapped in place.
        foreach (var (utf8Name, bytes) in FuzzBytes.InvalidUtf8)
        {
            var replacement = Encoding.ASCII.GetBytes(Utf8Marker);
            bytes.CopyTo(replacement, 1);
            foreach (var (field, set) in Names.Prepend(("event_id", (e, v) => e.EventId = v)))
            {
                yield return ("invalid UTF-8", $"{field} holds {utf8Name}",
                    () => FuzzBytes.Replace(With(ValidEvent(ids.Next(), now), e => set(e, Utf8Marker)).ToByteArray(), Utf8Marker, replacement));
            }

            yield return ("invalid UTF-8", $"a metadata key holds {utf8Name}",
                () => FuzzBytes.Replace(With(ValidEvent(ids.Next(), now), e => e.Metadata[Utf8Marker] = "v").ToByteArray(), Utf8Marker, replacement));
            yield return ("invalid UTF-8", $"a metadata value holds {utf8Name}",
                () => FuzzBytes.Replace(With(ValidEvent(ids.Next(), now), e => e.Metadata["ticket"] = Utf8Marker).ToByteArray(), Utf8Marker, replacement));
        }

        // A required field under a wire type it does not have: read as an unknown field, so the field is missing.
        foreach (var (number, field, clear) in new (int, string, Action<TokenUsageEvent>)[]
        {
            (TokenUsageEvent.EventIdFieldNumber, "event_id", e => e.EventId = ""),
            (TokenUsageEvent.TimestampFieldNumber, "timestamp", e => e.Timestamp = null),
            (TokenUsageEvent.ProviderFieldNumber, "provider", e => e.Provider = ""),
            (TokenUsageEvent.ModelFieldNumber, "model", e => e.Model = ""),
            (TokenUsageEvent.UsageFieldNumber, "usage", e => e.Usage = null),
        })
        {
            foreach (var (wireName, bytes) in GrpcCases.WrongWireTypes(number))
            {
                yield return ("wrong type", $"{field} sent as {wireName}", () => [.. With(ValidEvent(ids.Next(), now), clear).ToByteArray(), .. bytes]);
            }
        }
    }

    /// <summary>Bytes that are not a message of the method's type (or happen to be one that is plainly invalid).</summary>
    private static IEnumerable<(string Kind, string Name, byte[] Bytes, FuzzExpectation Expect)> NotTheMessage(
        Func<byte[]> valid, Func<byte[], FuzzExpectation?> classify, FuzzSettings settings, string endpoint) =>
        GrpcCases.ProtobufMutations(valid, classify, settings, endpoint, "a valid message",
            [("an unterminated group", GrpcCases.Field(99, WireFormat.WireType.StartGroup, []))]);

    /// <summary>
    /// What the service must answer these bytes as an event: refuse them if they do not decode, INVALID_ARGUMENT if
    /// they decode without a required field; null when they decode to an event that may be valid (left out).
    /// </summary>
    private static FuzzExpectation? ClassifyEvent(byte[] bytes)
    {
        TokenUsageEvent e;
        try
        {
            e = TokenUsageEvent.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException)
        {
            return Undecodable;
        }

        return LacksARequiredField(e) ? InvalidArgument : null;
    }

    private static bool Decodes(byte[] bytes)
    {
        try
        {
            TokenUsageEvent.Parser.ParseFrom(bytes);
            return true;
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }
    }

    private static FuzzExpectation? ClassifyBatch(byte[] bytes)
    {
        IngestBatchRequest batch;
        try
        {
            batch = IngestBatchRequest.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException)
        {
            return Undecodable;
        }

        return batch.Events.All(LacksARequiredField) ? InvalidArgument : null;
    }

    private static bool LacksARequiredField(TokenUsageEvent e) =>
        string.IsNullOrWhiteSpace(e.EventId) || e.Timestamp is null || string.IsNullOrWhiteSpace(e.Provider) || string.IsNullOrWhiteSpace(e.Model) || e.Usage is null;

    private static readonly (string Name, Action<TokenUsage, long> Set)[] Counts =
    [
        ("input_tokens", (u, v) => u.InputTokens = v), ("cache_read_tokens", (u, v) => u.CacheReadTokens = v),
        ("cache_write_tokens", (u, v) => u.CacheWriteTokens = v), ("cache_write_1h_tokens", (u, v) => u.CacheWrite1HTokens = v),
        ("output_tokens", (u, v) => u.OutputTokens = v), ("reasoning_tokens", (u, v) => u.ReasoningTokens = v),
    ];

    private static readonly (string Name, Action<TokenUsageEvent, string> Set)[] Names =
    [
        ("provider", (e, v) => e.Provider = v), ("model", (e, v) => e.Model = v), ("application", (e, v) => e.Application = v),
        ("project", (e, v) => e.Project = v), ("user_id", (e, v) => e.UserId = v), ("team", (e, v) => e.Team = v),
        ("environment", (e, v) => e.Environment = v), ("trace_id", (e, v) => e.TraceId = v), ("span_id", (e, v) => e.SpanId = v),
    ];

    private static byte[] Oversized(TokenUsageEvent e)
    {
        e.Metadata["padding"] = new string('p', 11 * 1024 * 1024);
        return e.ToByteArray();
    }

    /// <summary>An <c>IngestBatchRequest</c> of raw event bytes: each one field 1, length-delimited, whatever the bytes are.</summary>
    public static byte[] BatchOf(IEnumerable<byte[]> events) =>
        [.. events.SelectMany(e => GrpcCases.Field(IngestBatchRequest.EventsFieldNumber, WireFormat.WireType.LengthDelimited, e))];

    private static GrpcFuzzInput Unary(string method, byte[] message, IReadOnlyList<FuzzHeader> metadata) =>
        new(Service, method, MethodType.Unary, [message], metadata);

    private static GrpcFuzzInput Stream(IReadOnlyList<byte[]> messages, IReadOnlyList<FuzzHeader> metadata) =>
        new(Service, "IngestStream", MethodType.ClientStreaming, messages, metadata);

    private static TokenUsageEvent With(TokenUsageEvent e, Action<TokenUsageEvent> edit)
    {
        edit(e);
        return e;
    }
}
