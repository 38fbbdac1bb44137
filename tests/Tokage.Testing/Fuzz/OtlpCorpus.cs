using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using Tokage.Otlp;

namespace Tokage.Testing.Fuzz;

/// <summary>
/// Bad inputs for OTLP traces: <c>POST /v1/traces</c> in protobuf and in JSON, and <c>TraceService/Export</c>. Spans
/// whose usage must be refused (unreadable counts, bad ids, names and timestamps the native rules refuse) are
/// answered, as OTLP asks, with success and a <c>partial_success</c> naming them; bodies that do not decode get 400 (or
/// a gRPC error). Whether mutated bytes still decode, and into what, is worked out here with the service's own
/// decoders, so each case expects what OTLP says that export must get.
/// </summary>
public static class OtlpCorpus
{
    private const string Path = "/v1/traces";
    private const string ExportMethod = "Export";
    public const string Service = "opentelemetry.proto.collector.trace.v1.TraceService";
    private const int MaxBodyBytes = 10 * 1024 * 1024;

    // Replaced in the encoded export, at the same length in protobuf, by bytes no encoder would write.
    private const string Marker = "OTLP-MARKER";

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatEnumsAsIntegers(true));

    /// <summary>A model call as the GenAI conventions describe it, a minute old, with fresh ids from <paramref name="random"/>.</summary>
    public static Span ValidSpan(Random random, DateTimeOffset now)
    {
        var end = (ulong)now.AddMinutes(-1).ToUnixTimeMilliseconds() * 1_000_000;
        var span = new Span
        {
            TraceId = RandomId(random, 16),
            SpanId = RandomId(random, 8),
            Name = "chat claude-sonnet-4-5",
            Kind = Span.Types.SpanKind.Client,
            StartTimeUnixNano = end - 1_200_000_000,
            EndTimeUnixNano = end,
        };
        span.Attributes.AddRange([
            Attribute("gen_ai.operation.name", "chat"), Attribute("gen_ai.provider.name", "anthropic"),
            Attribute("gen_ai.request.model", "claude-sonnet-4-5"), Attribute("gen_ai.usage.input_tokens", 1_200),
            Attribute("gen_ai.usage.output_tokens", 300), Attribute("user.id", "u-42"),
        ]);
        return span;
    }

    public static ExportTraceServiceRequest Request(params Span[] spans)
    {
        var resource = new Resource { Attributes = { Attribute("service.name", "support-bot") } };
        var scope = new ScopeSpans { Scope = new InstrumentationScope { Name = "tokage-fuzz", Version = "1.0" } };
        scope.Spans.Add(spans);
        return new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { Resource = resource, ScopeSpans = { scope } } } };
    }

    /// <summary>OTLP/JSON as exporters write it: the proto3 JSON mapping with hex ids and integer enums.</summary>
    public static byte[] Json(ExportTraceServiceRequest request) => Encoding.UTF8.GetBytes(JsonNodeOf(request).ToJsonString());

    public static JsonObject JsonNodeOf(ExportTraceServiceRequest request)
    {
        var root = JsonNode.Parse(Formatter.Format(request))!.AsObject();
        foreach (var span in Spans(root))
        {
            foreach (var id in new[] { "traceId", "spanId", "parentSpanId" })
            {
                if (span[id] is JsonValue value && value.TryGetValue<string>(out var base64))
                {
                    span[id] = Convert.ToHexStringLower(Convert.FromBase64String(base64));
                }
            }
        }

        return root;
    }

    public static IEnumerable<FuzzCase> HttpProtobuf(FuzzSettings settings) =>
        Http(FuzzEndpoints.OtlpProtobuf, HttpCases.Protobuf, r => r.ToByteArray(), ClassifyProtobuf, settings)
            .Concat(ProtobufBytes(FuzzEndpoints.OtlpProtobuf, settings, undecodable: FuzzExpectation.Http(400))
                .Select(c => HttpCase(FuzzEndpoints.OtlpProtobuf, c.Kind, c.Name, c.Bytes, HttpCases.Protobuf, c.Expect)));

    public static IEnumerable<FuzzCase> HttpJson(FuzzSettings settings) =>
        Http(FuzzEndpoints.OtlpJson, HttpCases.Json, Json, ClassifyJson, settings).Concat(JsonBytes(settings));

    public static IEnumerable<FuzzCase> Grpc(FuzzSettings settings)
    {
        var endpoint = FuzzEndpoints.OtlpGrpc;
        var random = FuzzBytes.RandomFor(settings.Seed, endpoint + "/ids");
        FuzzCase Case(string kind, string name, byte[] message, FuzzExpectation expect) =>
            new(endpoint, kind, name, new GrpcFuzzInput(Service, ExportMethod, MethodType.Unary, [message], GrpcCases.ValidKey), expect);

        foreach (var (kind, name, request, rejected) in BadSpans(random, settings.Now))
        {
            yield return Case(kind, name, request.ToByteArray(), Refusing(rejected));
        }

        foreach (var (kind, name, bytes, expect) in ProtobufBytes(endpoint, settings, undecodable: FuzzExpectation.Grpc(StatusCode.InvalidArgument)))
        {
            yield return Case(kind, name, bytes, expect);
        }

        yield return Case("oversized message", "a valid span with an 11 MiB attribute", Oversized(random, settings.Now, 11 * 1024 * 1024).ToByteArray(), FuzzExpectation.Grpc(StatusCode.ResourceExhausted));
        foreach (var c in GrpcCases.BadKeys(endpoint, metadata => new GrpcFuzzInput(Service, ExportMethod, MethodType.Unary, [Request(ValidSpan(random, settings.Now)).ToByteArray()], metadata), settings))
        {
            yield return c;
        }

        foreach (var c in GrpcCases.BadCompression(endpoint, $"/{Service}/{ExportMethod}", Request(ValidSpan(random, settings.Now)).ToByteArray()))
        {
            yield return c;
        }
    }

    /// <summary>What both OTLP/HTTP encodings share: refused spans, bad content types, keys and encodings.</summary>
    private static IEnumerable<FuzzCase> Http(
        string endpoint, string contentType, Func<ExportTraceServiceRequest, byte[]> encode, Func<byte[], FuzzExpectation?> classify, FuzzSettings settings)
    {
        var random = FuzzBytes.RandomFor(settings.Seed, endpoint + "/ids");
        byte[] Valid() => encode(Request(ValidSpan(random, settings.Now)));

        foreach (var (kind, name, request, rejected) in BadSpans(random, settings.Now))
        {
            // OTLP/JSON checks id lengths while decoding: there a bad id is a body that does not decode.
            var body = encode(request);
            yield return HttpCase(endpoint, kind, name, body, contentType, classify(body) is { HttpStatus: 400 } undecodable ? undecodable : Refusing(rejected));
        }

        // The content type is checked first: a valid export under any other is 415.
        foreach (var other in new[] { "text/plain", "application/xml", "application/grpc", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream" })
        {
            yield return HttpCase(endpoint, "wrong Content-Type", $"Content-Type: {other}", Valid(), other, FuzzExpectation.Http(415));
        }

        yield return new(endpoint, "wrong Content-Type", "no Content-Type", new HttpFuzzInput(Path, Valid(), HttpCases.Headers(null)), FuzzExpectation.Http(415));
        // A valid export labelled as the other encoding: it is read, and refused, as that one.
        var mislabelled = Valid();
        var (otherType, classifyAsOther) = contentType == HttpCases.Json ? (HttpCases.Protobuf, (Func<byte[], FuzzExpectation?>)ClassifyProtobuf) : (HttpCases.Json, ClassifyJson);
        if (classifyAsOther(mislabelled) is { } asOther)
        {
            yield return HttpCase(endpoint, "wrong Content-Type", $"a valid export labelled {otherType}", mislabelled, otherType, asOther);
        }

        foreach (var c in HttpCases.BadKeys(endpoint, Path, contentType, Valid, settings))
        {
            yield return c;
        }

        foreach (var c in HttpCases.BadEncodings(endpoint, Path, contentType, Valid, size => encode(Oversized(random, settings.Now, size)), MaxBodyBytes, classify, settings))
        {
            yield return c;
        }

        yield return HttpCases.OverTheServerRequestLimit(endpoint, Path, contentType, size => encode(Oversized(random, settings.Now, size)));
    }

    /// <summary>
    /// One span each whose usage must be refused, with how many spans of the export that is. Counts the mapper cannot
    /// read, ids that identify nothing, and events the native rules refuse (the span path validates like the native one).
    /// </summary>
    private static IEnumerable<(string Kind, string Name, ExportTraceServiceRequest Request, int Rejected)> BadSpans(Random random, DateTimeOffset now)
    {
        (string, string, ExportTraceServiceRequest, int) One(string kind, string name, Action<Span> edit)
        {
            var span = ValidSpan(random, now);
            edit(span);
            return (kind, name, Request(span), 1);
        }

        foreach (var (name, value) in new (string, AnyValue)[]
        {
            ("a word", new AnyValue { StringValue = "lots" }), ("an empty-looking word", new AnyValue { StringValue = "n/a" }),
            ("1.5", new AnyValue { DoubleValue = 1.5 }), ("'12.5'", new AnyValue { StringValue = "12.5" }),
            ("NaN", new AnyValue { DoubleValue = double.NaN }), ("+Infinity", new AnyValue { DoubleValue = double.PositiveInfinity }),
            ("a bool", new AnyValue { BoolValue = true }), ("an array", new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { IntValue = 1 } } } }),
            ("a key-value list", new AnyValue { KvlistValue = new KeyValueList() }), ("bytes", new AnyValue { BytesValue = ByteString.CopyFromUtf8("1200") }),
        })
        {
            yield return One("wrong type", $"input tokens as {name}", s => Set(s, "gen_ai.usage.input_tokens", value));
            yield return One("wrong type", $"output tokens as {name}", s => Set(s, "gen_ai.usage.output_tokens", value));
        }

        foreach (var (name, value) in new (string, AnyValue)[]
        {
            ("10^12", new AnyValue { IntValue = 1_000_000_000_000 }), ("long.MaxValue", new AnyValue { IntValue = long.MaxValue }),
            ("1e300", new AnyValue { DoubleValue = 1e300 }), ("'1e400'", new AnyValue { StringValue = "1e400" }),
            ("'18446744073709551616'", new AnyValue { StringValue = "18446744073709551616" }), ("'9999999999999999999999'", new AnyValue { StringValue = "9999999999999999999999" }),
        })
        {
            yield return One("huge number", $"input tokens of {name}", s => Set(s, "gen_ai.usage.input_tokens", value));
            yield return One("huge number", $"cache reads of {name}", s => Set(s, "gen_ai.usage.cache_read.input_tokens", value));
        }

        foreach (var (name, id) in new (string, Func<ByteString>)[]
        {
            ("empty", () => ByteString.Empty), ("15 bytes", () => RandomId(random, 15)), ("17 bytes", () => RandomId(random, 17)), ("all zero", () => ByteString.CopyFrom(new byte[16])),
        })
        {
            yield return One("bad id", $"trace id {name}", s => s.TraceId = id());
        }

        foreach (var (name, id) in new (string, Func<ByteString>)[]
        {
            ("empty", () => ByteString.Empty), ("7 bytes", () => RandomId(random, 7)), ("9 bytes", () => RandomId(random, 9)), ("all zero", () => ByteString.CopyFrom(new byte[8])),
        })
        {
            yield return One("bad id", $"span id {name}", s => s.SpanId = id());
        }

        // A span with usage and no model or provider is stored unpriced (never dropped); what is refused is usage that is not a count.
        foreach (var (name, value) in new (string, AnyValue)[]
        {
            ("-1", new AnyValue { IntValue = -1 }), ("'-5'", new AnyValue { StringValue = "-5" }), ("-3.0", new AnyValue { DoubleValue = -3.0 }),
        })
        {
            yield return One("negative count", $"input tokens of {name}", s => Set(s, "gen_ai.usage.input_tokens", value));
            yield return One("negative count", $"cache reads of {name}", s => Set(s, "gen_ai.usage.cache_read.input_tokens", value));
        }

        // Frameworks' own usage payloads, broken: JSON that is not JSON, counts that are not counts inside it.
        (string, string, ExportTraceServiceRequest, int) Framework(string name, params (string Key, string Value)[] attributes) => One("framework payload", name, s =>
        {
            foreach (var key in new[] { "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens" })
            {
                Remove(s, key);
            }

            foreach (var (key, value) in attributes)
            {
                Set(s, key, new AnyValue { StringValue = value });
            }
        });
        yield return Framework("Genkit output that is not JSON", ("genkit:type", "action"), ("genkit:metadata:subtype", "model"), ("genkit:output", "{\"usage\":{\"inputTokens\":"));
        yield return Framework("Genkit usage with a negative count", ("genkit:type", "action"), ("genkit:metadata:subtype", "model"), ("genkit:output", "{\"usage\":{\"inputTokens\":-8,\"outputTokens\":2}}"));
        yield return Framework("Genkit usage with a fraction", ("genkit:type", "action"), ("genkit:metadata:subtype", "model"), ("genkit:output", "{\"usage\":{\"inputTokens\":8.5}}"));
        yield return Framework("ADK response that is not JSON", ("gcp.vertex.agent.llm_response", "usage_metadata: 12"));
        yield return Framework("ADK usage with a count as text", ("gcp.vertex.agent.llm_response", "{\"usage_metadata\":{\"prompt_token_count\":\"many\"}}"));
        yield return Framework("Langfuse usage_details with a negative count", ("langfuse.observation.type", "generation"), ("langfuse.observation.usage_details", "{\"input\":-1,\"output\":3}"));
        yield return Framework("Langfuse usage_details with 10^12 tokens", ("langfuse.observation.type", "generation"), ("langfuse.observation.usage_details", "{\"input\":1000000000000}"));
        yield return One("missing field", "no start or end time", s => (s.StartTimeUnixNano, s.EndTimeUnixNano) = (0, 0));
        yield return One("timestamp too old", "ended 40 days ago", s => s.EndTimeUnixNano = Nanos(now.AddDays(-40)));
        yield return One("timestamp too old", "ended a nanosecond after the epoch", s => (s.StartTimeUnixNano, s.EndTimeUnixNano) = (1, 1));
        yield return One("timestamp in the future", "ends 10 minutes ahead", s => s.EndTimeUnixNano = Nanos(now.AddMinutes(10)));
        yield return One("timestamp in the future", "ends at ulong.MaxValue nanoseconds (2554)", s => s.EndTimeUnixNano = ulong.MaxValue);
        yield return One("over-long", "a model of 257 characters", s => Set(s, "gen_ai.request.model", new AnyValue { StringValue = new string('m', 257) }));
        yield return One("over-long", "a provider of 257 characters", s => Set(s, "gen_ai.provider.name", new AnyValue { StringValue = new string('p', 257) }));
        foreach (var attribute in new[] { "user.id", "tokage.application", "tokage.project", "tokage.team", "deployment.environment.name" })
        {
            yield return One("over-long", $"{attribute} of 257 characters", s => Set(s, attribute, new AnyValue { StringValue = new string('n', 257) }));
        }

        var serviceName = ValidSpan(random, now);
        var longService = Request(serviceName);
        longService.ResourceSpans[0].Resource.Attributes[0].Value = new AnyValue { StringValue = new string('s', 300) };
        yield return ("over-long", "a resource service.name of 300 characters", longService, 1);

        var mixed = BadSpanEdits.Select(edit =>
        {
            var span = ValidSpan(random, now);
            edit(span);
            return span;
        }).ToArray();
        yield return ("every span invalid", $"{mixed.Length} spans, each with one mistake", Request(mixed), mixed.Length);

        var many = Enumerable.Range(0, 10_000).Select(_ =>
        {
            var span = ValidSpan(random, now);
            Set(span, "gen_ai.usage.input_tokens", new AnyValue { DoubleValue = 0.5 });
            return span;
        }).ToArray();
        yield return ("every span invalid", "10,000 spans, each with half a token", Request(many), many.Length);
    }

    private static readonly Action<Span>[] BadSpanEdits =
    [
        s => Set(s, "gen_ai.usage.input_tokens", new AnyValue { StringValue = "lots" }),
        s => Set(s, "gen_ai.usage.output_tokens", new AnyValue { DoubleValue = 2.5 }),
        s => s.TraceId = ByteString.CopyFrom(new byte[16]),
        s => s.SpanId = ByteString.Empty,
        s => Set(s, "gen_ai.usage.input_tokens", new AnyValue { IntValue = -1 }),
        s => (s.StartTimeUnixNano, s.EndTimeUnixNano) = (0, 0),
        s => s.EndTimeUnixNano = ulong.MaxValue,
        s => Set(s, "user.id", new AnyValue { StringValue = new string('u', 257) }),
    ];

    /// <summary>
    /// Bytes that are not a trace export, or decode into one that bills nothing: cuts, flips and garbage of an export
    /// whose one span is refused (so what still decodes is refused too), protobuf no encoder writes, nesting past the
    /// parser's limit, and strings that are not UTF-8.
    /// </summary>
    private static IEnumerable<(string Kind, string Name, byte[] Bytes, FuzzExpectation Expect)> ProtobufBytes(
        string endpoint, FuzzSettings settings, FuzzExpectation undecodable)
    {
        var random = FuzzBytes.RandomFor(settings.Seed, endpoint + "/bytes");
        FuzzExpectation? Classify(byte[] bytes) => ClassifyProtobuf(bytes) is { HttpStatus: 400 } ? undecodable : ClassifyProtobuf(bytes);
        byte[] Refusable() => RefusableExport(random, settings.Now).ToByteArray();

        foreach (var mutation in GrpcCases.ProtobufMutations(Refusable, Classify, settings, endpoint, "an export",
            [("resource_spans as a varint", GrpcCases.Field(ExportTraceServiceRequest.ResourceSpansFieldNumber, WireFormat.WireType.Varint, [0x01]))]))
        {
            yield return mutation;
        }

        foreach (var depth in new[] { 200, 10_000 })
        {
            var nested = NestedAttribute(random, settings.Now, depth);
            if (Classify(nested) is { } expect)
            {
                yield return ("deeply nested", $"an attribute value {depth:N0} arrays deep", nested, expect);
            }
        }

        // proto3 string fields must be UTF-8, and parsers must refuse the message when they are not. Here in an export
        // that is otherwise valid, so a parser that lets them through bills a model no one named.
        foreach (var (utf8Name, invalid) in FuzzBytes.InvalidUtf8)
        {
            var replacement = Encoding.ASCII.GetBytes(Marker);
            invalid.CopyTo(replacement, 1);
            foreach (var (where, place) in new (string, Action<ExportTraceServiceRequest>)[]
            {
                ("the model", r => Set(r.ResourceSpans[0].ScopeSpans[0].Spans[0], "gen_ai.request.model", new AnyValue { StringValue = Marker })),
                ("the user id", r => Set(r.ResourceSpans[0].ScopeSpans[0].Spans[0], "user.id", new AnyValue { StringValue = Marker })),
                ("an attribute key", r => r.ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes.Add(Attribute(Marker, "x"))),
                ("the span name", r => r.ResourceSpans[0].ScopeSpans[0].Spans[0].Name = Marker),
                ("the resource's service.name", r => r.ResourceSpans[0].Resource.Attributes[0].Value = new AnyValue { StringValue = Marker }),
            })
            {
                var request = Request(ValidSpan(random, settings.Now));
                place(request);
                yield return ("invalid UTF-8", $"{where} holds {utf8Name}", FuzzBytes.Replace(request.ToByteArray(), Marker, replacement), undecodable);
            }
        }
    }

    /// <summary>OTLP/JSON bodies that are not an export: cuts, flips, garbage, every field of wrong types, ids that are not hex, bytes that are not UTF-8.</summary>
    private static IEnumerable<FuzzCase> JsonBytes(FuzzSettings settings)
    {
        var endpoint = FuzzEndpoints.OtlpJson;
        var random = FuzzBytes.RandomFor(settings.Seed, endpoint + "/bytes");
        FuzzCase? Case(string kind, string name, byte[] body) =>
            ClassifyJson(body) is { } expect ? HttpCase(endpoint, kind, name, body, HttpCases.Json, expect) : null;
        JsonObject Refusable() => JsonNodeOf(RefusableExport(random, settings.Now));
        byte[] Edited(Action<JsonObject> edit)
        {
            var root = Refusable();
            edit(root);
            return Encoding.UTF8.GetBytes(root.ToJsonString());
        }

        byte[] Raw(Action<JsonObject> placeMarker, ReadOnlySpan<byte> raw) => FuzzBytes.Replace(Edited(placeMarker), $"\"{Marker}\"", raw);
        JsonObject FirstSpan(JsonObject root) => Spans(root).First();

        var cases = new List<FuzzCase?>();
        var whole = Encoding.UTF8.GetBytes(Refusable().ToJsonString());
        foreach (var cut in FuzzBytes.CutPoints(whole.Length, settings.RandomCasesPerKind, FuzzBytes.RandomFor(settings.Seed, endpoint + "/truncated")))
        {
            cases.Add(Case("truncated", $"the first {cut} of {whole.Length} bytes", whole[..cut]));
        }

        var flips = FuzzBytes.RandomFor(settings.Seed, endpoint + "/flipped");
        for (var attempt = 0; cases.Count(c => c?.Kind == "byte flips") < settings.RandomCasesPerKind && attempt < settings.RandomCasesPerKind * 20; attempt++)
        {
            cases.Add(Case("byte flips", $"an export with bytes flipped (#{attempt})", FuzzBytes.Flip(Encoding.UTF8.GetBytes(Refusable().ToJsonString()), flips)));
        }

        var garbage = FuzzBytes.RandomFor(settings.Seed, endpoint + "/garbage");
        for (var i = 0; i < settings.RandomCasesPerKind; i++)
        {
            var bytes = FuzzBytes.Garbage(garbage, 1, 2_048);
            cases.Add(Case("garbage", $"{bytes.Length} random bytes (#{i})", bytes));
        }

        var notObjects = new (string Name, Func<JsonNode?> Value)[]
        {
            ("a string", () => "x"), ("a number", () => 1), ("true", () => true), ("an object", () => new JsonObject()), ("an array of numbers", () => new JsonArray(1, 2)),
        };
        foreach (var (typeName, value) in notObjects)
        {
            cases.Add(Case("wrong type", $"resourceSpans is {typeName}", Edited(r => r["resourceSpans"] = value())));
            cases.Add(Case("wrong type", $"scopeSpans is {typeName}", Edited(r => r["resourceSpans"]![0]!["scopeSpans"] = value())));
            cases.Add(Case("wrong type", $"spans is {typeName}", Edited(r => r["resourceSpans"]![0]!["scopeSpans"]![0]!["spans"] = value())));
            cases.Add(Case("wrong type", $"attributes is {typeName}", Edited(r => FirstSpan(r)["attributes"] = value())));
            cases.Add(Case("wrong type", $"an attribute's value is {typeName}", Edited(r => FirstSpan(r)["attributes"]![0]!["value"] = value())));
        }

        foreach (var id in new[] { "traceId", "spanId", "parentSpanId" })
        {
            foreach (var (name, value) in new (string, Func<JsonNode?>)[]
            {
                ("a number", () => 123), ("true", () => true), ("an object", () => new JsonObject()), ("an array", () => new JsonArray()),
                ("not hex", () => new string('z', id == "traceId" ? 32 : 16)), ("one digit short", () => new string('a', id == "traceId" ? 31 : 15)),
                ("one digit long", () => new string('a', id == "traceId" ? 33 : 17)), ("base64, not hex", () => Convert.ToBase64String(new byte[id == "traceId" ? 16 : 8])),
            })
            {
                cases.Add(Case("bad id", $"{id} is {name}", Edited(r => FirstSpan(r)[id] = value())));
            }
        }

        foreach (var field in new[] { "startTimeUnixNano", "endTimeUnixNano" })
        {
            foreach (var (name, value) in new (string, Func<JsonNode?>)[]
            {
                ("true", () => true), ("a word", () => "soon"), ("-1", () => -1), ("'-1'", () => "-1"), ("1.5", () => 1.5), ("an object", () => new JsonObject()),
                ("'18446744073709551616'", () => "18446744073709551616"),
            })
            {
                cases.Add(Case("wrong type", $"{field} is {name}", Edited(r => FirstSpan(r)[field] = value())));
            }

            foreach (var literal in new[] { "1e400", "18446744073709551616", "-0.5" })
            {
                cases.Add(Case("huge number", $"{field} is {literal}", Raw(r => FirstSpan(r)[field] = Marker, Encoding.ASCII.GetBytes(literal))));
            }
        }

        foreach (var (name, value) in new (string, string)[]
        {
            ("intValue an object", "{\"intValue\": {}}"), ("intValue a word", "{\"intValue\": \"many\"}"), ("intValue 1e400", "{\"intValue\": 1e400}"),
            ("intValue 2^64", "{\"intValue\": 18446744073709551616}"), ("intValue '1.5'", "{\"intValue\": \"1.5\"}"), ("doubleValue a word", "{\"doubleValue\": \"lots\"}"),
            ("boolValue a word", "{\"boolValue\": \"yes\"}"), ("bytesValue not base64", "{\"bytesValue\": \"!!!\"}"), ("two values at once", "{\"intValue\": 1, \"stringValue\": \"1\"}"),
        })
        {
            // Attribute 3 of the refusable export's span is its output token count.
            cases.Add(Case("wrong type", $"a count's {name}", Raw(r => FirstSpan(r)["attributes"]![3]!["value"] = Marker, Encoding.UTF8.GetBytes(value))));
        }

        foreach (var (name, body) in new (string, string)[]
        {
            ("an empty body", ""), ("null", "null"), ("an array", "[]"), ("a string", "\"resourceSpans\""), ("a number", "1"),
            ("a trailing comma", "{\"resourceSpans\": [],}"), ("10,000 nested arrays", new string('[', 10_000) + new string(']', 10_000)), ("a lone brace", "{"),
        })
        {
            cases.Add(Case("malformed JSON", name, Encoding.UTF8.GetBytes(body)));
        }

        foreach (var depth in new[] { 20, 30, 10_000 })
        {
            var nested = string.Concat(Enumerable.Repeat("{\"kvlistValue\": {\"values\": [{\"key\": \"k\", \"value\": ", depth)) + "{\"stringValue\": \"x\"}" + string.Concat(Enumerable.Repeat("}]}}", depth));
            cases.Add(Case("deeply nested", $"an attribute value {depth:N0} key-value lists deep", Raw(r => FirstSpan(r)["attributes"]![0]!["value"] = Marker, Encoding.UTF8.GetBytes(nested))));
        }

        foreach (var (utf8Name, invalid) in FuzzBytes.InvalidUtf8)
        {
            byte[] quoted = [(byte)'"', (byte)'a', .. invalid, (byte)'b', (byte)'"'];
            cases.Add(Case("invalid UTF-8", $"the span name holds {utf8Name}", Raw(r => FirstSpan(r)["name"] = Marker, quoted)));
            cases.Add(Case("invalid UTF-8", $"the model holds {utf8Name}", Raw(r => FirstSpan(r)["attributes"]![2]!["value"]!["stringValue"] = Marker, quoted)));
            cases.Add(Case("invalid UTF-8", $"an attribute key holds {utf8Name}", Raw(r => FirstSpan(r)["attributes"]![0]!["key"] = Marker, quoted)));
        }

        foreach (var (name, escape) in new (string, string)[] { ("a lone high surrogate", "\\ud800"), ("a lone low surrogate", "\\udc00") })
        {
            var quoted = Encoding.ASCII.GetBytes($"\"a{escape}b\"");
            cases.Add(Case("invalid UTF-16 escape", $"the trace id holds {name}", Raw(r => FirstSpan(r)["traceId"] = Marker, quoted)));
            cases.Add(Case("invalid UTF-16 escape", $"the span name holds {name}", Raw(r => FirstSpan(r)["name"] = Marker, quoted)));
            cases.Add(Case("invalid UTF-16 escape", $"the model holds {name}", Raw(r => FirstSpan(r)["attributes"]![2]!["value"]!["stringValue"] = Marker, quoted)));
        }

        return cases.OfType<FuzzCase>();
    }

    /// <summary>
    /// What the service must answer a protobuf body: 400 if it does not decode; else success naming the refused spans,
    /// or success with nothing to bill. Null when spans with usage would be billed: such bytes may be a valid export.
    /// </summary>
    private static FuzzExpectation? ClassifyProtobuf(byte[] bytes)
    {
        ExportTraceServiceRequest request;
        try
        {
            request = ExportTraceServiceRequest.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException)
        {
            return FuzzExpectation.Http(400);
        }

        return ClassifyExport(request);
    }

    private static FuzzExpectation? ClassifyJson(byte[] bytes)
    {
        ExportTraceServiceRequest request;
        try
        {
            request = OtlpJson.ParseTraceRequest(bytes);
        }
        catch (Exception)
        {
            // Whatever the parser throws, the body does not decode: 400 (a parser exception the service does not
            // expect would surface as a 5xx, which is what this suite is for).
            return FuzzExpectation.Http(400);
        }

        return ClassifyExport(request);
    }

    private static FuzzExpectation? ClassifyExport(ExportTraceServiceRequest request)
    {
        var mapped = SpanUsageMapper.Map(request);
        return mapped.Usage.Count > 0 ? null
            : mapped.Rejected.Count > 0 ? Refusing(mapped.Rejected.Count)
            : new FuzzExpectation { NothingToBill = true };
    }

    /// <summary>Success whose partial_success counts <paramref name="rejected"/> refused spans.</summary>
    private static FuzzExpectation Refusing(int rejected) => new() { RejectedSpans = rejected };

    /// <summary>An export whose one span the mapper refuses (half a token): whatever of it still decodes after a mutation is refused too, or bills nothing.</summary>
    private static ExportTraceServiceRequest RefusableExport(Random random, DateTimeOffset now)
    {
        var span = ValidSpan(random, now);
        Set(span, "gen_ai.usage.input_tokens", new AnyValue { DoubleValue = 0.5 });
        return Request(span);
    }

    /// <summary>A valid export of at least <paramref name="size"/> bytes: one span with a padding attribute.</summary>
    private static ExportTraceServiceRequest Oversized(Random random, DateTimeOffset now, int size)
    {
        var span = ValidSpan(random, now);
        span.Attributes.Add(Attribute("padding", new string('p', size)));
        return Request(span);
    }

    /// <summary>
    /// A refusable export whose span has an attribute nested <paramref name="depth"/> array values deep, written as
    /// bytes: the generated types would recurse that deep to write it.
    /// </summary>
    private static byte[] NestedAttribute(Random random, DateTimeOffset now, int depth)
    {
        var value = new AnyValue { StringValue = "x" }.ToByteArray();
        for (var i = 0; i < depth; i++)
        {
            var array = GrpcCases.Field(ArrayValue.ValuesFieldNumber, WireFormat.WireType.LengthDelimited, value);
            value = GrpcCases.Field(AnyValue.ArrayValueFieldNumber, WireFormat.WireType.LengthDelimited, array);
        }

        var keyValue = new KeyValue { Key = "nested" }.ToByteArray()
            .Concat(GrpcCases.Field(KeyValue.ValueFieldNumber, WireFormat.WireType.LengthDelimited, value)).ToArray();
        var request = RefusableExport(random, now);
        var span = request.ResourceSpans[0].ScopeSpans[0].Spans[0].ToByteArray()
            .Concat(GrpcCases.Field(Span.AttributesFieldNumber, WireFormat.WireType.LengthDelimited, keyValue)).ToArray();
        var scope = request.ResourceSpans[0].ScopeSpans[0].Scope.ToByteArray();
        var scopeSpans = GrpcCases.Field(ScopeSpans.ScopeFieldNumber, WireFormat.WireType.LengthDelimited, scope)
            .Concat(GrpcCases.Field(ScopeSpans.SpansFieldNumber, WireFormat.WireType.LengthDelimited, span)).ToArray();
        var resourceSpans = GrpcCases.Field(ResourceSpans.ResourceFieldNumber, WireFormat.WireType.LengthDelimited, request.ResourceSpans[0].Resource.ToByteArray())
            .Concat(GrpcCases.Field(ResourceSpans.ScopeSpansFieldNumber, WireFormat.WireType.LengthDelimited, scopeSpans)).ToArray();
        return GrpcCases.Field(ExportTraceServiceRequest.ResourceSpansFieldNumber, WireFormat.WireType.LengthDelimited, resourceSpans);
    }

    private static FuzzCase HttpCase(string endpoint, string kind, string name, byte[] body, string contentType, FuzzExpectation expect) =>
        new(endpoint, kind, name, new HttpFuzzInput(Path, body, HttpCases.Headers(contentType)), expect);

    private static IEnumerable<JsonObject> Spans(JsonObject root) =>
        (root["resourceSpans"] as JsonArray ?? [])
            .SelectMany(r => r?["scopeSpans"] as JsonArray ?? [])
            .SelectMany(s => s?["spans"] as JsonArray ?? [])
            .OfType<JsonObject>();

    private static void Set(Span span, string key, AnyValue value)
    {
        Remove(span, key);
        span.Attributes.Add(new KeyValue { Key = key, Value = value });
    }

    private static void Remove(Span span, string key)
    {
        foreach (var attribute in span.Attributes.Where(a => a.Key == key).ToList())
        {
            span.Attributes.Remove(attribute);
        }
    }

    private static KeyValue Attribute(string key, object value) => new()
    {
        Key = key,
        Value = value switch
        {
            string s => new AnyValue { StringValue = s },
            int i => new AnyValue { IntValue = i },
            _ => throw new ArgumentException($"No AnyValue for {value.GetType()}"),
        },
    };

    private static ByteString RandomId(Random random, int length)
    {
        var bytes = new byte[length];
        do
        {
            random.NextBytes(bytes);
        }
        while (bytes.All(b => b == 0));

        return ByteString.CopyFrom(bytes);
    }

    private static ulong Nanos(DateTimeOffset at) => (ulong)at.ToUnixTimeMilliseconds() * 1_000_000;
}
