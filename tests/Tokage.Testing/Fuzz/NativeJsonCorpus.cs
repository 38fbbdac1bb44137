using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tokage.Testing.Fuzz;

/// <summary>
/// Bad inputs for <c>POST /v1/events</c> and <c>POST /v1/events/batch</c>: every rule of the README broken one at a
/// time on an otherwise valid event, every field of every wrong JSON type, bytes that are not JSON or not UTF-8, and the
/// batch's own shapes and limits. Each event carries its own id, so anything stored names the case that leaked.
/// </summary>
public static class NativeJsonCorpus
{
    private const string Path = "/v1/events";
    private const string BatchPath = "/v1/events/batch";
    private const int MaxEventBytes = 1024 * 1024;
    private const int MaxBatchBytes = 10 * 1024 * 1024;

    // Spliced into the serialized JSON where a value must be bytes JsonNode cannot hold (invalid UTF-8, 1e400, -0).
    private const string RawMarker = "\"RAW-VALUE-MARKER\"";

    private static readonly string[] RequiredStrings = ["event_id", "provider", "model"];
    private static readonly string[] OptionalStrings = ["service_tier", "application", "project", "user_id", "team", "environment", "trace_id", "span_id"];
    private static readonly string[] Counts = ["input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens"];

    /// <summary>A valid event (DESIGN §4's example), a minute old.</summary>
    public static JsonObject ValidEvent(string eventId, DateTimeOffset now) => new()
    {
        ["event_id"] = eventId,
        ["timestamp"] = Rfc3339(now.AddMinutes(-1)),
        ["provider"] = "anthropic",
        ["model"] = "claude-sonnet-4-5",
        ["usage"] = new JsonObject
        {
            ["input_tokens"] = 12_000, ["cache_read_tokens"] = 8_000, ["cache_write_tokens"] = 1_000,
            ["cache_write_1h_tokens"] = 0, ["output_tokens"] = 900, ["reasoning_tokens"] = 300,
        },
        ["service_tier"] = "standard", ["application"] = "support-bot", ["project"] = "helpdesk", ["user_id"] = "u-42",
        ["team"] = "cx", ["environment"] = "prod", ["metadata"] = new JsonObject { ["ticket"] = "T-1001" },
    };

    public static string Rfc3339(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static IEnumerable<FuzzCase> SingleEvents(FuzzSettings settings)
    {
        var ids = new FuzzEventIds("fz-event");
        var endpoint = FuzzEndpoints.Event;
        FuzzCase Case(string kind, string name, byte[] body, FuzzExpectation? expect = null) =>
            new(endpoint, kind, name, new HttpFuzzInput(Path, body, HttpCases.Headers(HttpCases.Json)), expect ?? FuzzExpectation.Http(400));

        foreach (var (kind, name, mutate) in EventMutations(settings.Now))
        {
            yield return Case(kind, name, mutate(ids.Next()));
        }

        foreach (var (kind, name, body) in NotJson(() => Serialize(ValidEvent(ids.Next(), settings.Now)), settings, endpoint))
        {
            yield return Case(kind, name, body);
        }

        foreach (var (name, root) in new (string, string)[] { ("an array", "[1, 2]"), ("a string", "\"event\""), ("a number", "42"), ("null", "null"), ("true", "true") })
        {
            yield return Case("not an event", $"the body is {name}", Encoding.UTF8.GetBytes(root));
        }

        yield return Case("not an event", "a batch sent as one event", Encoding.UTF8.GetBytes($"{{\"events\": [{Serialize(ValidEvent(ids.Next(), settings.Now)).AsString()}]}}"));

        foreach (var c in HttpCases.BadKeys(endpoint, Path, HttpCases.Json, () => Serialize(ValidEvent(ids.Next(), settings.Now)), settings))
        {
            yield return c;
        }

        foreach (var c in HttpCases.BadEncodings(endpoint, Path, HttpCases.Json, () => Serialize(ValidEvent(ids.Next(), settings.Now)),
            size => Padded(Serialize(ValidEvent(ids.Next(), settings.Now)), size), MaxEventBytes, ClassifyDecoded, settings))
        {
            yield return c;
        }
    }

    public static IEnumerable<FuzzCase> Batches(FuzzSettings settings)
    {
        var ids = new FuzzEventIds("fz-batch");
        var endpoint = FuzzEndpoints.Batch;
        FuzzCase Case(string kind, string name, byte[] body, FuzzExpectation? expect = null) =>
            new(endpoint, kind, name, new HttpFuzzInput(BatchPath, body, HttpCases.Headers(HttpCases.Json)), expect ?? FuzzExpectation.Http(400));
        byte[] ValidEvents(int count) => BatchOf(Enumerable.Range(0, count).Select(_ => Serialize(ValidEvent(ids.Next(), settings.Now))));

        // Every single-event mistake as the one event of a batch: nothing valid, so 400 and nothing stored.
        foreach (var (kind, name, mutate) in EventMutations(settings.Now))
        {
            yield return Case(kind, name + " (the batch's only event)", BatchOf([mutate(ids.Next())]));
        }

        var mutations = EventMutations(settings.Now).ToList();
        var mixing = FuzzBytes.RandomFor(settings.Seed, endpoint + "/mixed");
        for (var i = 0; i < settings.RandomCasesPerKind; i++)
        {
            var picked = Enumerable.Range(0, mixing.Next(2, 20)).Select(_ => mutations[mixing.Next(mutations.Count)]).ToList();
            yield return Case("every event invalid", $"{picked.Count} events, each with one mistake (#{i})", BatchOf(picked.Select(m => m.Mutate(ids.Next()))));
        }

        yield return Case("every event invalid", "1,000 events, each with negative input tokens",
            BatchOf(Enumerable.Range(0, 1_000).Select(_ => Serialize(With(ValidEvent(ids.Next(), settings.Now), e => e["usage"]!["input_tokens"] = -1)))));

        foreach (var (kind, name, body) in NotJson(() => ValidEvents(3), settings, endpoint))
        {
            yield return Case(kind, name, body);
        }

        var one = Serialize(ValidEvent(ids.Next(), settings.Now)).AsString();
        foreach (var (name, body) in new (string, string)[]
        {
            ("an array of events, not an object", $"[{one}]"),
            ("one event, not a batch", one),
            ("'events' missing", "{}"),
            ("'Events' (the name is case-sensitive)", $"{{\"Events\": [{one}]}}"),
            ("'events' null", "{\"events\": null}"),
            ("'events' an object", $"{{\"events\": {one}}}"),
            ("'events' a string", "{\"events\": \"[]\"}"),
            ("'events' a number", "{\"events\": 1}"),
            ("events that are numbers", "{\"events\": [1, 2, 3]}"),
            ("events that are null", "{\"events\": [null, null]}"),
            ("events that are arrays", $"{{\"events\": [[{one}]]}}"),
            ("a string, not a batch", "\"events\""),
            ("null", "null"),
        })
        {
            yield return Case("not a batch", name, Encoding.UTF8.GetBytes(body));
        }

        yield return Case("empty batch", "{\"events\": []}", Encoding.UTF8.GetBytes("{\"events\": []}"));
        yield return Case("empty batch", "{\"events\": []} with room to spare", Encoding.UTF8.GetBytes("{ \"events\" : [ ] }"));

        // Valid events, too many of them: refused as a whole, none stored.
        yield return Case("oversized batch", "1,001 valid events", ValidEvents(1_001), FuzzExpectation.Http(413));
        yield return Case("oversized batch", "10,000 valid events", ValidEvents(10_000), FuzzExpectation.Http(413));

        foreach (var c in HttpCases.BadKeys(endpoint, BatchPath, HttpCases.Json, () => ValidEvents(2), settings))
        {
            yield return c;
        }

        foreach (var c in HttpCases.BadEncodings(endpoint, BatchPath, HttpCases.Json, () => ValidEvents(2), size => Padded(ValidEvents(2), size), MaxBatchBytes, ClassifyDecoded, settings))
        {
            yield return c;
        }

        yield return HttpCases.OverTheServerRequestLimit(endpoint, BatchPath, HttpCases.Json, size => Padded(ValidEvents(2), size));
    }

    /// <summary>One mistake on a valid event each; the body a case sends is <c>Mutate(eventId)</c>.</summary>
    private static IEnumerable<(string Kind, string Name, Func<string, byte[]> Mutate)> EventMutations(DateTimeOffset now)
    {
        (string, string, Func<string, byte[]>) Edit(string kind, string name, Action<JsonObject> edit) =>
            (kind, name, id => Serialize(With(ValidEvent(id, now), edit)));
        (string, string, Func<string, byte[]>) Raw(string kind, string name, Action<JsonObject> placeMarker, ReadOnlyMemory<byte> raw) =>
            (kind, name, id => FuzzBytes.Replace(Serialize(With(ValidEvent(id, now), placeMarker)), RawMarker, raw.Span));
        (string, string, Func<string, byte[]>) RawCount(string kind, string count, string literal) =>
            Raw(kind, $"usage.{count} = {literal}", e => e["usage"]![count] = Marker, Encoding.ASCII.GetBytes(literal));

        // Wrong JSON types. Null is absent, and absent is legal for optional strings, counts and metadata, so null
        // appears only where the field is required or must be an object.
        var notStrings = new (string Name, Func<JsonNode?> Value)[]
        {
            ("a number", () => 42), ("a float", () => 1.5), ("an object", () => new JsonObject()), ("an object with a value", () => new JsonObject { ["value"] = "x" }),
            ("an array", () => new JsonArray()), ("an array of strings", () => new JsonArray("x")), ("true", () => true), ("false", () => false),
        };
        foreach (var field in RequiredStrings.Concat(OptionalStrings))
        {
            foreach (var (typeName, value) in notStrings)
            {
                yield return Edit("wrong type", $"{field} is {typeName}", e => e[field] = value());
            }

            // -0 and 1e400 are JSON numbers that no JsonNode holds as written.
            yield return Raw("wrong type", $"{field} is -0", e => e[field] = Marker, "-0"u8.ToArray());
            yield return Raw("wrong type", $"{field} is 1e400", e => e[field] = Marker, "1e400"u8.ToArray());
        }

        foreach (var field in RequiredStrings)
        {
            yield return Edit("wrong type", $"{field} is null", e => e[field] = null);
        }

        foreach (var (typeName, value) in notStrings.Append(("null", () => null)))
        {
            yield return Edit("wrong type", $"timestamp is {typeName}", e => e["timestamp"] = value());
        }

        yield return Edit("wrong type", "timestamp is Unix seconds", e => e["timestamp"] = now.ToUnixTimeSeconds());
        yield return Edit("wrong type", "timestamp is Unix milliseconds", e => e["timestamp"] = now.ToUnixTimeMilliseconds());
        foreach (var (typeName, value) in new (string, Func<JsonNode?>)[]
        {
            ("a string", () => "12000"), ("a number", () => 12_000), ("an array", () => new JsonArray(12_000, 900)), ("true", () => true), ("null", () => null),
        })
        {
            yield return Edit("wrong type", $"usage is {typeName}", e => e["usage"] = value());
        }

        foreach (var count in Counts)
        {
            foreach (var (typeName, value) in new (string, Func<JsonNode?>)[]
            {
                ("a string", () => "900"), ("an empty string", () => ""), ("an object", () => new JsonObject { ["value"] = 900 }),
                ("an array", () => new JsonArray(900)), ("true", () => true), ("false", () => false), ("a float", () => 1.5), ("a tiny float", () => 1e-300),
            })
            {
                yield return Edit("wrong type", $"usage.{count} is {typeName}", e => e["usage"]![count] = value());
            }

            // Numbers no count is: past 2^63, past 2^64, past a double, and negative.
            yield return RawCount("huge number", count, "1e400");
            yield return RawCount("huge number", count, "18446744073709551616");
            yield return RawCount("huge number", count, "9223372036854775808");
            yield return RawCount("huge number", count, "9999999999999999999999");
            yield return RawCount("wrong type", count, "-0.0");
            yield return Edit("negative tokens", $"usage.{count} = -1", e => e["usage"]![count] = -1);
            yield return Edit("negative tokens", $"usage.{count} = long.MinValue", e => e["usage"]![count] = long.MinValue);
        }

        foreach (var (typeName, value) in new (string, Func<JsonNode?>)[] { ("a string", () => "ticket=T-1"), ("a number", () => 1), ("an array", () => new JsonArray("T-1")), ("true", () => true) })
        {
            yield return Edit("wrong type", $"metadata is {typeName}", e => e["metadata"] = value());
        }

        foreach (var (typeName, value) in new (string, Func<JsonNode?>)[] { ("a number", () => 1001), ("an object", () => new JsonObject()), ("an array", () => new JsonArray()), ("true", () => true), ("null", () => null) })
        {
            yield return Edit("wrong type", $"a metadata value is {typeName}", e => e["metadata"]!["ticket"] = value());
        }

        // The token arithmetic.
        yield return Edit("cache > input", "cache_read alone above input", e => (e["usage"]!["input_tokens"], e["usage"]!["cache_read_tokens"], e["usage"]!["cache_write_tokens"]) = (100, 101, 0));
        yield return Edit("cache > input", "cache read + writes one above input", e => e["usage"]!["input_tokens"] = 8_999);
        yield return Edit("cache > input", "1-hour cache writes above input", e => (e["usage"]!["input_tokens"], e["usage"]!["cache_read_tokens"], e["usage"]!["cache_write_tokens"], e["usage"]!["cache_write_1h_tokens"]) = (10, 0, 0, 11));
        yield return Edit("cache > input", "cache counts that overflow a long when summed", e =>
            (e["usage"]!["input_tokens"], e["usage"]!["cache_read_tokens"], e["usage"]!["cache_write_tokens"]) = (long.MaxValue, long.MaxValue, long.MaxValue));
        yield return Edit("reasoning > output", "reasoning one above output", e => e["usage"]!["reasoning_tokens"] = 901);
        yield return Edit("reasoning > output", "reasoning without output", e => (e["usage"]!["output_tokens"], e["usage"]!["reasoning_tokens"]) = (0, 1));

        // Timestamps.
        foreach (var (name, value) in new (string, string)[]
        {
            ("empty", ""), ("words", "yesterday"), ("a 13th month", "2026-13-01T00:00:00Z"), ("30 February", "2026-02-30T10:00:00Z"),
            ("hour 25", "2026-11-20T25:00:00Z"), ("offset +25:00", "2026-11-20T10:15:02+25:00"), ("garbage after it", Rfc3339(now) + "x"),
        })
        {
            yield return Edit("invalid timestamp", $"timestamp {name}", e => e["timestamp"] = value);
        }

        yield return Edit("timestamp in the future", "10 minutes ahead", e => e["timestamp"] = Rfc3339(now.AddMinutes(10)));
        yield return Edit("timestamp in the future", "a year ahead", e => e["timestamp"] = Rfc3339(now.AddYears(1)));
        yield return Edit("timestamp in the future", "9999-12-31T23:59:59Z", e => e["timestamp"] = "9999-12-31T23:59:59Z");
        yield return Edit("timestamp too old", "40 days ago", e => e["timestamp"] = Rfc3339(now.AddDays(-40)));
        yield return Edit("timestamp too old", "the Unix epoch", e => e["timestamp"] = "1970-01-01T00:00:00Z");
        yield return Edit("timestamp too old", "0001-01-01T00:00:00Z", e => e["timestamp"] = "0001-01-01T00:00:00Z");

        // Required, present but empty.
        foreach (var field in RequiredStrings.Append("timestamp").Append("usage"))
        {
            yield return Edit("missing field", $"no {field}", e => e.Remove(field));
        }

        foreach (var field in RequiredStrings)
        {
            yield return Edit("missing field", $"{field} empty", e => e[field] = "");
            yield return Edit("missing field", $"{field} whitespace", e => e[field] = " \t\n ");
        }

        yield return Edit("unknown value", "service_tier 'premium'", e => e["service_tier"] = "premium");
        yield return Edit("unknown value", "service_tier ' standard'", e => e["service_tier"] = " standard");

        // Lengths: one over, far over, and over in UTF-16 code units with characters outside the BMP.
        yield return Edit("over-long", "event_id of 129 characters", e => e["event_id"] = new string('e', 129));
        yield return Edit("over-long", "event_id of 65 emoji (130 UTF-16 units)", e => e["event_id"] = string.Concat(Enumerable.Repeat("\U0001F525", 65)));
        yield return Edit("over-long", "event_id of 100,000 characters", e => e["event_id"] = new string('e', 100_000));
        foreach (var field in RequiredStrings.Skip(1).Concat(OptionalStrings.Skip(1)))
        {
            yield return Edit("over-long", $"{field} of 257 characters", e => e[field] = new string('n', 257));
        }

        yield return Edit("too many metadata entries", "33 entries", e => e["metadata"] = Metadata(33));
        yield return Edit("too many metadata entries", "10,000 entries", e => e["metadata"] = Metadata(10_000));
        yield return Edit("over-long", "a metadata key of 65 characters", e => e["metadata"] = new JsonObject { [new string('k', 65)] = "v" });
        yield return Edit("invalid metadata", "an empty metadata key", e => e["metadata"] = new JsonObject { [""] = "v" });
        yield return Edit("over-long", "a metadata value of 1,025 characters", e => e["metadata"]!["ticket"] = new string('v', 1_025));

        // Bytes that are not UTF-8, inside a string value, a metadata key and a metadata value.
        foreach (var (name, bytes) in FuzzBytes.InvalidUtf8)
        {
            var quoted = (byte[])[(byte)'"', (byte)'a', .. bytes, (byte)'b', (byte)'"'];
            foreach (var field in RequiredStrings.Concat(OptionalStrings).Append("timestamp"))
            {
                yield return Raw("invalid UTF-8", $"{field} holds {name}", e => e[field] = Marker, quoted);
            }

            yield return Raw("invalid UTF-8", $"a metadata key holds {name}", e => e["metadata"] = new JsonObject { [Marker] = "v" }, quoted);
            yield return Raw("invalid UTF-8", $"a metadata value holds {name}", e => e["metadata"]!["ticket"] = Marker, quoted);
        }

        // Escapes that name half a surrogate pair: valid UTF-8 bytes, but no string.
        foreach (var (name, escape) in new (string, string)[] { ("a lone high surrogate", "\\ud800"), ("a lone low surrogate", "\\udc00"), ("a reversed pair", "\\udc00\\ud800") })
        {
            var quoted = Encoding.ASCII.GetBytes($"\"a{escape}b\"");
            yield return Raw("invalid UTF-16 escape", $"event_id holds {name}", e => e["event_id"] = Marker, quoted);
            yield return Raw("invalid UTF-16 escape", $"model holds {name}", e => e["model"] = Marker, quoted);
            yield return Raw("invalid UTF-16 escape", $"a metadata key holds {name}", e => e["metadata"] = new JsonObject { [Marker] = "v" }, quoted);
            yield return Raw("invalid UTF-16 escape", $"a metadata value holds {name}", e => e["metadata"]!["ticket"] = Marker, quoted);
        }

        // Nesting past the 16 levels the service reads: at the limit's edge, far past it, and unclosed.
        foreach (var depth in new[] { 17, 100, 10_000 })
        {
            yield return Raw("deeply nested", $"a metadata value nested {depth:N0} arrays deep", e => e["metadata"]!["ticket"] = Marker,
                Encoding.ASCII.GetBytes(new string('[', depth) + new string(']', depth)));
            yield return Raw("deeply nested", $"usage nested {depth:N0} objects deep", e => e["usage"] = Marker,
                Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth)));
        }
    }

    /// <summary>Bodies that are not JSON, or not UTF-8, or not one document: cut, flipped, garbage, and a few classics.</summary>
    private static IEnumerable<(string Kind, string Name, byte[] Body)> NotJson(Func<byte[]> validBody, FuzzSettings settings, string endpoint)
    {
        // Truncation: every strict prefix of a JSON object is not JSON (its closing brace is its last byte).
        var whole = validBody();
        var truncations = FuzzBytes.RandomFor(settings.Seed, endpoint + "/truncated");
        foreach (var cut in FuzzBytes.CutPoints(whole.Length, settings.RandomCasesPerKind, truncations))
        {
            yield return ("truncated", $"the first {cut} of {whole.Length} bytes", whole[..cut]);
        }

        // Flips: kept only when the result is not JSON any more (a flip inside a string can leave a valid event).
        var flips = FuzzBytes.RandomFor(settings.Seed, endpoint + "/flipped");
        var kept = 0;
        for (var attempt = 0; kept < settings.RandomCasesPerKind && attempt < settings.RandomCasesPerKind * 20; attempt++)
        {
            var flipped = FuzzBytes.Flip(validBody(), flips);
            if (ClassifyDecoded(flipped) is not null)
            {
                kept++;
                yield return ("byte flips", $"a valid body with bytes flipped (#{attempt})", flipped);
            }
        }

        var garbage = FuzzBytes.RandomFor(settings.Seed, endpoint + "/garbage");
        for (var i = 0; i < settings.RandomCasesPerKind; i++)
        {
            var bytes = FuzzBytes.Garbage(garbage, 1, 2_048);
            if (ClassifyDecoded(bytes) is not null)
            {
                yield return ("garbage", $"{bytes.Length} random bytes (#{i})", bytes);
            }
        }

        var text = Encoding.UTF8.GetString(validBody());
        foreach (var (name, body) in new (string, string)[]
        {
            ("an empty body", ""), ("whitespace", "  \r\n\t "), ("trailing garbage", text + "x"), ("two documents", text + text),
            ("a trailing comma", text[..^1] + ",}"), ("a comment", "// comment\n" + text), ("single quotes", text.Replace('"', '\'')),
            ("NaN", "{\"usage\": {\"input_tokens\": NaN}}"), ("an unterminated string", "{\"event_id\": \"abc"), ("a lone brace", "{"),
            ("10,000 unclosed brackets", new string('[', 10_000)), ("10,000 nested arrays", new string('[', 10_000) + new string(']', 10_000)),
            ("a NUL byte", text.Insert(1, "\0")), ("UTF-16", "\uFEFF" + text),
        })
        {
            var bytes = name == "UTF-16" ? Encoding.Unicode.GetBytes(body) : Encoding.UTF8.GetBytes(body);
            yield return ("malformed JSON", name, bytes);
        }

        yield return ("invalid UTF-8", "a body of Latin-1 text", Encoding.Latin1.GetBytes(text.Replace("support-bot", "support-b\u00f6t", StringComparison.Ordinal)));
    }

    /// <summary>What the service answers a decoded body that is not UTF-8 or not JSON: 400. A body that is JSON may be valid, so it is left out.</summary>
    private static FuzzExpectation? ClassifyDecoded(byte[] body)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return FuzzExpectation.Http(400);
        }

        try
        {
            using (JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 }))
            {
                return null;
            }
        }
        catch (JsonException)
        {
            return FuzzExpectation.Http(400);
        }
    }

    private static JsonObject Metadata(int entries)
    {
        var metadata = new JsonObject();
        for (var i = 0; i < entries; i++)
        {
            metadata[$"k{i}"] = "v";
        }

        return metadata;
    }

    private static string Marker => RawMarker.Trim('"');

    private static JsonObject With(JsonObject e, Action<JsonObject> edit)
    {
        edit(e);
        return e;
    }

    public static byte[] Serialize(JsonNode node) => Encoding.UTF8.GetBytes(node.ToJsonString());

    public static byte[] BatchOf(IEnumerable<byte[]> events)
    {
        using var buffer = new MemoryStream();
        buffer.Write("{\"events\": ["u8);
        var first = true;
        foreach (var e in events)
        {
            if (!first)
            {
                buffer.Write(", "u8);
            }

            buffer.Write(e);
            first = false;
        }

        buffer.Write("]}"u8);
        return buffer.ToArray();
    }

    /// <summary>A JSON object with whitespace before its closing brace until it is at least <paramref name="size"/> bytes: still valid, only too big.</summary>
    private static byte[] Padded(byte[] json, int size)
    {
        var padded = new byte[Math.Max(size, json.Length)];
        json.AsSpan(0, json.Length - 1).CopyTo(padded);
        padded.AsSpan(json.Length - 1, padded.Length - json.Length).Fill((byte)' ');
        padded[^1] = (byte)'}';
        return padded;
    }

    private static string AsString(this byte[] utf8) => Encoding.UTF8.GetString(utf8);
}
