using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Tokage.Otlp.Tests;

/// <summary>Builds OTLP requests with the generated types, as an SDK's exporter would.</summary>
internal static class Otlp
{
    public const string TraceId = "5b8efff798038103d269b633813fc60c";
    public const string SpanId = "eee19b7ec3c1b174";
    public const string ParentSpanId = "a1b2c3d4e5f60718";

    // 2026-11-20T10:15:02Z and a second later.
    public const ulong Start = 1_795_169_702_000_000_000;
    public const ulong End = 1_795_169_703_120_000_000;

    public static Span Span(string name, (string Key, object Value)[] attributes, string spanId = SpanId, string parentSpanId = ParentSpanId, string traceId = TraceId)
    {
        var span = new Span
        {
            TraceId = Id(traceId),
            SpanId = Id(spanId),
            ParentSpanId = Id(parentSpanId),
            Name = name,
            Kind = OpenTelemetry.Proto.Trace.V1.Span.Types.SpanKind.Client,
            StartTimeUnixNano = Start,
            EndTimeUnixNano = End,
        };
        span.Attributes.Add(attributes.Select(a => Attribute(a.Key, a.Value)));
        return span;
    }

    public static ExportTraceServiceRequest Request(params Span[] spans) => Request([("service.name", "support-bot")], spans);

    public static ExportTraceServiceRequest Request((string Key, object Value)[] resourceAttributes, params Span[] spans)
    {
        var resource = new Resource();
        resource.Attributes.Add(resourceAttributes.Select(a => Attribute(a.Key, a.Value)));
        var scopeSpans = new ScopeSpans { Scope = new InstrumentationScope { Name = "tests", Version = "1.0" } };
        scopeSpans.Spans.Add(spans);
        var resourceSpans = new ResourceSpans { Resource = resource };
        resourceSpans.ScopeSpans.Add(scopeSpans);
        var request = new ExportTraceServiceRequest();
        request.ResourceSpans.Add(resourceSpans);
        return request;
    }

    public static ByteString Id(string hex) => ByteString.CopyFrom(Convert.FromHexString(hex));

    private static KeyValue Attribute(string key, object value) => new()
    {
        Key = key,
        Value = value switch
        {
            string s => new AnyValue { StringValue = s },
            int i => new AnyValue { IntValue = i },
            long l => new AnyValue { IntValue = l },
            double d => new AnyValue { DoubleValue = d },
            bool b => new AnyValue { BoolValue = b },
            _ => throw new ArgumentException($"No AnyValue for {value.GetType()}"),
        },
    };
}
