using System.Text;
using OpenTelemetry.Proto.Trace.V1;

namespace Tokage.Otlp.Tests;

/// <summary>OTLP/JSON as exporters send it: hex ids, int64 as strings, enums as integers, fields a newer SDK added.</summary>
public sealed class OtlpJsonTests
{
    // As the OpenTelemetry JavaScript OTLP/HTTP JSON exporter writes a span (with one field this proto does not know).
    private const string ExporterBody = """
        {"resourceSpans":[{"resource":{"attributes":[
            {"key":"service.name","value":{"stringValue":"support-bot"}},
            {"key":"deployment.environment.name","value":{"stringValue":"prod"}}],"droppedAttributesCount":0},
          "scopeSpans":[{"scope":{"name":"@opentelemetry/instrumentation-openai","version":"0.3.0"},
            "spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"",
              "traceState":"","name":"chat gpt-4o","kind":3,
              "startTimeUnixNano":"1795169702000000000","endTimeUnixNano":"1795169703120000000",
              "attributes":[
                {"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
                {"key":"gen_ai.provider.name","value":{"stringValue":"openai"}},
                {"key":"gen_ai.response.model","value":{"stringValue":"gpt-4o-2024-08-06"}},
                {"key":"gen_ai.usage.input_tokens","value":{"intValue":"1200"}},
                {"key":"gen_ai.usage.cache_read.input_tokens","value":{"intValue":1024}},
                {"key":"gen_ai.usage.output_tokens","value":{"intValue":"80"}},
                {"key":"gen_ai.request.temperature","value":{"doubleValue":0.2}},
                {"key":"gen_ai.response.finish_reasons","value":{"arrayValue":{"values":[{"stringValue":"stop"}]}}}],
              "droppedAttributesCount":0,
              "events":[{"timeUnixNano":"1795169702500000000","name":"first_token","attributes":[]}],
              "links":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","attributes":[],"flags":257}],
              "status":{"code":1},"flags":257,"somethingANewerSdkAdds":{"nested":[1,2,3]}}]}]}]}
        """;

    [Fact]
    public void AnExportersBodyParsesWithHexIdsStringInt64sAndIntegerEnums()
    {
        var request = OtlpJson.ParseTraceRequest(Encoding.UTF8.GetBytes(ExporterBody));

        var span = request.ResourceSpans.Single().ScopeSpans.Single().Spans.Single();
        Assert.Equal("5b8efff798038103d269b633813fc60c", Convert.ToHexStringLower(span.TraceId.Span));
        Assert.Equal("eee19b7ec3c1b174", Convert.ToHexStringLower(span.SpanId.Span));
        Assert.True(span.ParentSpanId.IsEmpty);
        Assert.Equal(Span.Types.SpanKind.Client, span.Kind);
        Assert.Equal(Status.Types.StatusCode.Ok, span.Status.Code);
        Assert.Equal(1_795_169_703_120_000_000UL, span.EndTimeUnixNano);
        Assert.Equal(1_795_169_702_500_000_000UL, span.Events.Single().TimeUnixNano);
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", Convert.ToHexStringLower(span.Links.Single().TraceId.Span));
        Assert.Equal("b7ad6b7169203331", Convert.ToHexStringLower(span.Links.Single().SpanId.Span));
        Assert.Equal(257u, span.Flags);
    }

    [Fact]
    public void AParsedBodyMapsToTheSameEventAsItsProtobuf()
    {
        var usage = Assert.Single(SpanUsageMapper.Map(OtlpJson.ParseTraceRequest(Encoding.UTF8.GetBytes(ExporterBody))).Usage);

        var e = usage.Event;
        Assert.Equal("5b8efff798038103d269b633813fc60ceee19b7ec3c1b174", e.EventId);
        Assert.Equal((1200L, 1024L, 80L), (e.Usage.InputTokens, e.Usage.CacheReadTokens, e.Usage.OutputTokens));
        Assert.Equal(("openai", "gpt-4o-2024-08-06", "support-bot", "prod"), (e.Provider, e.Model, e.Application, e.Environment));
        Assert.Equal(DateTimeOffset.Parse("2026-11-20T10:15:03.120Z"), e.Timestamp.ToDateTimeOffset());
        Assert.True(usage.IsModelCall);
        Assert.Equal("", usage.ParentSpanIdHex);
    }

    [Fact]
    public void ProtoFieldNamesEnumNamesAndNumericInt64sAreAcceptedToo()
    {
        // Nanosecond timestamps as JSON numbers are above 2^53: they must come through exactly, not via a double.
        const string body = """
            {"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"5B8EFFF798038103D269B633813FC60C",
              "span_id":"eee19b7ec3c1b174","parent_span_id":"a1b2c3d4e5f60718","name":"chat","kind":"SPAN_KIND_CLIENT",
              "start_time_unix_nano":1795169702000000001,"endTimeUnixNano":1795169703123456789,
              "attributes":[{"key":"gen_ai.usage.input_tokens","value":{"int_value":9007199254740993}}]}]}]}]}
            """;

        var span = OtlpJson.ParseTraceRequest(Encoding.UTF8.GetBytes(body)).ResourceSpans[0].ScopeSpans[0].Spans[0];

        Assert.Equal("5b8efff798038103d269b633813fc60c", Convert.ToHexStringLower(span.TraceId.Span));
        Assert.Equal("a1b2c3d4e5f60718", Convert.ToHexStringLower(span.ParentSpanId.Span));
        Assert.Equal(Span.Types.SpanKind.Client, span.Kind);
        Assert.Equal(1_795_169_702_000_000_001UL, span.StartTimeUnixNano);
        Assert.Equal(1_795_169_703_123_456_789UL, span.EndTimeUnixNano);
        Assert.Equal(9_007_199_254_740_993L, span.Attributes[0].Value.IntValue);
    }

    [Fact]
    public void AnEnumNameANewerSdkAddsIsReadAsUnspecified()
    {
        var span = OtlpJson.ParseTraceRequest("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SIDEWAYS"}]}]}]}"""u8)
            .ResourceSpans[0].ScopeSpans[0].Spans[0];

        Assert.Equal(Span.Types.SpanKind.Unspecified, span.Kind);
    }

    [Fact]
    public void AnEmptyExportIsAnEmptyRequest()
    {
        Assert.Empty(OtlpJson.ParseTraceRequest("{}"u8).ResourceSpans);
        Assert.Empty(OtlpJson.ParseTraceRequest("""{"resourceSpans":[]}"""u8).ResourceSpans);
    }

    [Theory]
    [InlineData("not json at all", "not JSON")]
    [InlineData("""{"resourceSpans":[""", "not JSON")]
    [InlineData("""[1,2]""", "JSON object")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz8efff798038103d269b633813fc60c"}]}]}]}""",
        "resourceSpans[0].scopeSpans[0].spans[0].traceId is not hex")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"W7ad6b71692033=="}]}]}]}""",
        "resourceSpans[0].scopeSpans[0].spans[0].spanId is not hex")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103"}]}]}]}""",
        "traceId must be 32 hex digits")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{},{"spans":[{},{"links":[{"spanId":"abc"}]}]}]}]}""",
        "resourceSpans[0].scopeSpans[1].spans[1].links[0].spanId must be 16 hex digits")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":12345}]}]}]}""", "traceId must be a hex string")]
    [InlineData("""{"resourceSpans":5}""", "not an OTLP trace export")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":{"a":1}}]}]}]}""", "not an OTLP trace export")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"yesterday"}]}]}]}""", "not an OTLP trace export")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":{"key":"a"}}]}]}]}""", "not an OTLP trace export")]
    public void BadInputIsAFormatExceptionSayingWhatIsWrong(string body, string expected)
    {
        var error = Assert.Throws<FormatException>(() => OtlpJson.ParseTraceRequest(Encoding.UTF8.GetBytes(body)));

        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"droppedAttributesCount":-1}]}]}]}""")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"flags":1e40}]}]}]}""")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":1.5e300}]}]}]}""")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"intValue":"1","stringValue":"x"}}]}]}]}]}""")]
    [InlineData("""{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"bytesValue":"not base64!"}}]}}]}""")]
    [InlineData("""{"resourceSpans":[null]}""")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":null,"name":null}]}]}]}""")]
    [InlineData("\"just a string\"")]
    [InlineData("")]
    public void OddShapesEitherParseOrAreAFormatException(string body)
    {
        var error = Record.Exception(() => OtlpJson.ParseTraceRequest(Encoding.UTF8.GetBytes(body)));

        Assert.True(error is null or FormatException, $"{error?.GetType()}: {error?.Message}");
    }
}
