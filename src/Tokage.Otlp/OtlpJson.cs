using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace Tokage.Otlp;

/// <summary>
/// OTLP/JSON (the body of <c>POST /v1/traces</c> with <c>Content-Type: application/json</c>) to the protobuf
/// request. OTLP/JSON is the proto3 JSON mapping with two differences: trace and span ids are hex, not base64, and
/// enums are integers. Google.Protobuf's parser does the rest once the ids are rewritten.
/// </summary>
public static class OtlpJson
{
    private const int TraceIdHexLength = 32;
    private const int SpanIdHexLength = 16;

    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    // 64-bit fields that exporters may send as JSON numbers. Google.Protobuf reads JSON numbers through a double,
    // which rounds nanosecond timestamps above 2^53; as strings they are parsed exactly.
    private static readonly HashSet<string> Int64Fields =
    [
        "startTimeUnixNano", "start_time_unix_nano", "endTimeUnixNano", "end_time_unix_nano",
        "timeUnixNano", "time_unix_nano", "intValue", "int_value",
    ];

    /// <summary>Parses an OTLP/JSON trace export; throws <see cref="FormatException"/> naming what is wrong.</summary>
    public static ExportTraceServiceRequest ParseTraceRequest(ReadOnlySpan<byte> utf8)
    {
        // JsonNode reads strings lazily, and throws InvalidOperationException for bytes that are not UTF-8 only when
        // one is read: checked here, once, so that a body that is not text is a FormatException like any other.
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
        {
            throw new FormatException("The body is not valid UTF-8.");
        }

        try
        {
            return Parse(utf8);
        }
        catch (InvalidOperationException e)
        {
            // A string that escapes half a surrogate pair ("\ud800"): JSON syntax, but no text.
            throw new FormatException($"The body holds a string that is not text: {e.Message}", e);
        }
    }

    private static ExportTraceServiceRequest Parse(ReadOnlySpan<byte> utf8)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(utf8, documentOptions: new JsonDocumentOptions { MaxDepth = 128 });
        }
        catch (JsonException e)
        {
            throw new FormatException($"The body is not JSON: {e.Message}", e);
        }

        if (root is not JsonObject request)
        {
            throw new FormatException("The body must be a JSON object with 'resourceSpans'.");
        }

        RewriteInt64s(request);
        foreach (var (resourceSpans, r) in Items(request, "resourceSpans", "resource_spans"))
        {
            foreach (var (scopeSpans, s) in Items(resourceSpans, "scopeSpans", "scope_spans"))
            {
                foreach (var (span, i) in Items(scopeSpans, "spans", "spans"))
                {
                    var path = $"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]";
                    RewriteIds(span, path,
                        ("traceId", "trace_id", TraceIdHexLength), ("spanId", "span_id", SpanIdHexLength), ("parentSpanId", "parent_span_id", SpanIdHexLength));
                    foreach (var (link, l) in Items(span, "links", "links"))
                    {
                        RewriteIds(link, $"{path}.links[{l}]", ("traceId", "trace_id", TraceIdHexLength), ("spanId", "span_id", SpanIdHexLength));
                    }
                }
            }
        }

        try
        {
            return Parser.Parse<ExportTraceServiceRequest>(request.ToJsonString());
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException)
        {
            throw new FormatException($"The body is not an OTLP trace export: {e.Message}", e);
        }
    }

    private static void RewriteIds(JsonObject owner, string path, params (string Json, string Proto, int HexLength)[] fields)
    {
        foreach (var (json, proto, hexLength) in fields)
        {
            foreach (var name in json == proto ? [json] : new[] { json, proto })
            {
                if (!owner.TryGetPropertyValue(name, out var node) || node is null)
                {
                    continue;
                }

                if (node.GetValueKind() != JsonValueKind.String)
                {
                    throw new FormatException($"{path}.{json} must be a hex string.");
                }

                owner[name] = HexToBase64(node.GetValue<string>(), hexLength, $"{path}.{json}");
            }
        }
    }

    private static string HexToBase64(string hex, int expectedLength, string field)
    {
        // An empty id is allowed (a root span's parentSpanId); anything else is exactly the id's width.
        if (hex.Length == 0)
        {
            return "";
        }

        if (hex.Length != expectedLength)
        {
            throw new FormatException($"{field} must be {expectedLength} hex digits, got {hex.Length} characters.");
        }

        try
        {
            return Convert.ToBase64String(Convert.FromHexString(hex));
        }
        catch (FormatException)
        {
            throw new FormatException($"{field} is not hex: '{hex}'.");
        }
    }

    /// <summary>Quotes the 64-bit integers (timestamps, int attribute values) wherever they nest.</summary>
    private static void RewriteInt64s(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var name in obj.Select(p => p.Key).ToList())
                {
                    var value = obj[name];
                    if (Int64Fields.Contains(name) && value is JsonValue number && number.GetValueKind() == JsonValueKind.Number)
                    {
                        obj[name] = number.ToJsonString();
                    }
                    else
                    {
                        RewriteInt64s(value);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    RewriteInt64s(item);
                }

                break;
        }
    }

    /// <summary>The objects of an array field under either of its names; other shapes are left for the parser to reject.</summary>
    private static IEnumerable<(JsonObject Item, int Index)> Items(JsonObject owner, string jsonName, string protoName)
    {
        foreach (var name in jsonName == protoName ? [jsonName] : new[] { jsonName, protoName })
        {
            if (owner.TryGetPropertyValue(name, out var node) && node is JsonArray array)
            {
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonObject item)
                    {
                        yield return (item, i);
                    }
                }
            }
        }
    }
}
