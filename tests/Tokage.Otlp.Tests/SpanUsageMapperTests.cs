using Google.Protobuf;

namespace Tokage.Otlp.Tests;

/// <summary>Ids, time, attribution and the spans the mapper leaves out or rejects.</summary>
public sealed class SpanUsageMapperTests
{
    private static readonly ScopeName Tests = new("tests", "1.0");

    private static readonly (string, object)[] Chat =
    [
        ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"), ("gen_ai.response.model", "gpt-4o"),
        ("gen_ai.usage.input_tokens", 100), ("gen_ai.usage.output_tokens", 10),
    ];

    [Fact]
    public void TheEventIdIsTraceIdAndSpanIdInHexAndTheSameWhenASpanIsSentAgain()
    {
        var first = Assert.Single(SpanUsageMapper.Map(Otlp.Request(Otlp.Span("chat", Chat))).Usage);
        var again = Assert.Single(SpanUsageMapper.Map(Otlp.Request(Otlp.Span("chat", Chat))).Usage);

        Assert.Equal(Otlp.TraceId + Otlp.SpanId, first.Event.EventId);
        Assert.Equal(48, first.Event.EventId.Length);
        Assert.Equal(first.Event, again.Event);
        Assert.Equal(Otlp.TraceId, first.Event.TraceId);
        Assert.Equal(Otlp.SpanId, first.Event.SpanId);
        Assert.Equal((Otlp.TraceId, Otlp.SpanId, Otlp.ParentSpanId, "chat"), (first.TraceIdHex, first.SpanIdHex, first.ParentSpanIdHex, first.SpanName));
    }

    [Fact]
    public void SpansWithoutUsageAreNotEventsButEverySpanIsListedForAncestry()
    {
        var root = Otlp.Span("POST /tickets", [("http.request.method", "POST")], spanId: "1111111111111111", parentSpanId: "");
        var agent = Otlp.Span("invoke_agent triage", [("gen_ai.operation.name", "invoke_agent")], spanId: "2222222222222222", parentSpanId: "1111111111111111");
        var chat = Otlp.Span("chat gpt-4o", Chat, spanId: "3333333333333333", parentSpanId: "2222222222222222");

        var result = SpanUsageMapper.Map(Otlp.Request(root, agent, chat));

        Assert.Equal("3333333333333333", Assert.Single(result.Usage).SpanIdHex);
        Assert.Equal(
            [
                new SpanLink(Otlp.TraceId, "1111111111111111", "", Tests),
                new SpanLink(Otlp.TraceId, "2222222222222222", "1111111111111111", Tests),
                new SpanLink(Otlp.TraceId, "3333333333333333", "2222222222222222", Tests),
            ],
            result.Spans);
    }

    [Fact]
    public void TheTimestampIsTheSpansEndElseItsStart()
    {
        var ended = Otlp.Span("chat", Chat);
        var unended = Otlp.Span("chat", Chat, spanId: "0000000000000002");
        unended.EndTimeUnixNano = 0;

        var usage = SpanUsageMapper.Map(Otlp.Request(ended, unended)).Usage;

        Assert.Equal(DateTimeOffset.Parse("2026-11-20T10:15:03.120Z"), usage[0].Event.Timestamp.ToDateTimeOffset());
        Assert.Equal(DateTimeOffset.Parse("2026-11-20T10:15:02Z"), usage[1].Event.Timestamp.ToDateTimeOffset());
    }

    [Fact]
    public void AttributionComesFromTheResourceWhereTheSpanDoesNotSayOtherwise()
    {
        (string, object)[] resource =
        [
            ("service.name", "support-bot-api"), ("tokage.project", "helpdesk"), ("tokage.team", "cx"),
            ("deployment.environment.name", "prod"), ("enduser.id", "resource-user"),
        ];
        var fromResource = Otlp.Span("chat", Chat, spanId: "0000000000000001");
        var fromSpan = Otlp.Span("chat", [.. Chat, ("tokage.application", "triage"), ("tokage.team", "billing"), ("user.id", "u-42"),
            ("tokage.project", "refunds"), ("deployment.environment", "staging")], spanId: "0000000000000002");

        var usage = SpanUsageMapper.Map(Otlp.Request(resource, fromResource, fromSpan)).Usage;

        var r = usage[0].Event;
        Assert.Equal(("support-bot-api", "helpdesk", "resource-user", "cx", "prod"), (r.Application, r.Project, r.UserId, r.Team, r.Environment));
        var s = usage[1].Event;
        Assert.Equal(("triage", "refunds", "u-42", "billing", "staging"), (s.Application, s.Project, s.UserId, s.Team, s.Environment));
    }

    /// <summary>A reservation is one call's: the span's own attribute settles it, a resource's names none.</summary>
    [Fact]
    public void TheSpansReservationIdIsCarriedAndTheResourcesIsNot()
    {
        var result = SpanUsageMapper.Map(Otlp.Request([("tokage.reservation_id", "from-resource")],
            Otlp.Span("chat", [.. Chat, ("tokage.reservation_id", "rsv-42")], spanId: "0000000000000001"),
            Otlp.Span("chat", Chat, spanId: "0000000000000002")));

        Assert.Equal(["rsv-42", ""], result.Usage.Select(u => u.Event.ReservationId));
    }

    [Fact]
    public void TokageApplicationBeatsServiceNameAndAnUnknownServiceNamesNoApplication()
    {
        var named = SpanUsageMapper.Map(Otlp.Request([("service.name", "api"), ("tokage.application", "support-bot")], Otlp.Span("chat", Chat)));
        var unnamed = SpanUsageMapper.Map(Otlp.Request([("service.name", "unknown_service:node"), ("deployment.environment", "dev")], Otlp.Span("chat", Chat)));

        Assert.Equal("support-bot", Assert.Single(named.Usage).Event.Application);
        Assert.Equal("", Assert.Single(unnamed.Usage).Event.Application);
        Assert.Equal("dev", Assert.Single(unnamed.Usage).Event.Environment);
    }

    [Theory]
    [InlineData("default", "standard")]
    [InlineData("auto", "standard")]
    [InlineData("flex", "flex")]
    [InlineData("Priority", "priority")]
    [InlineData("batch", "batch")]
    [InlineData("scale", "")]
    public void TheServiceTierIsOneTokagePrices(string reported, string expected)
    {
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span("chat", [.. Chat, ("gen_ai.openai.request.service_tier", reported)])));

        Assert.Equal(expected, Assert.Single(result.Usage).Event.ServiceTier);
    }

    [Fact]
    public void TheTierAppliedBeatsTheTierAskedFor()
    {
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span("chat",
            [.. Chat, ("gen_ai.openai.request.service_tier", "auto"), ("gen_ai.openai.response.service_tier", "priority")])));

        Assert.Equal("priority", Assert.Single(result.Usage).Event.ServiceTier);
    }

    [Fact]
    public void MetadataKeepsTheSpanNameOperationAndInstrumentationScopeOnly()
    {
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span("chat gpt-4o", [.. Chat, ("gen_ai.request.temperature", 0.2)])));

        Assert.Equal(new Dictionary<string, string>
        {
            ["otel.span_name"] = "chat gpt-4o", ["gen_ai.operation.name"] = "chat", ["otel.scope.name"] = "tests", ["otel.scope.version"] = "1.0",
        }, Assert.Single(result.Usage).Event.Metadata);
    }

    [Theory]
    [InlineData("many", "not_a_number")]
    [InlineData("12.5", "fractional_count")]
    [InlineData("5000000000000", "too_large")]
    [InlineData("-1", "negative_count")]
    [InlineData("-3.0", "negative_count")]
    public void ACountThatIsNotACountRejectsTheSpanNamingTheAttribute(string value, string code)
    {
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span("chat", [.. Chat[..3], ("gen_ai.usage.input_tokens", value)])));

        Assert.Empty(result.Usage);
        var rejected = Assert.Single(result.Rejected);
        Assert.Contains("gen_ai.usage.input_tokens", rejected.Reason);
        Assert.Equal((code, new ScopeName("tests", "1.0")), (rejected.Code, rejected.Scope));
        Assert.Equal((Otlp.TraceId, Otlp.SpanId, "chat"), (rejected.TraceIdHex, rejected.SpanIdHex, rejected.SpanName));
        Assert.Single(result.Spans);
    }

    [Fact]
    public void ABooleanCountRejectsTheSpan()
    {
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span("chat", [.. Chat[..3], ("gen_ai.usage.output_tokens", true)])));

        Assert.Contains("gen_ai.usage.output_tokens", Assert.Single(result.Rejected).Reason);
    }

    [Fact]
    public void AUsageSpanWithoutValidIdsIsRejected()
    {
        var noTrace = Otlp.Span("chat", Chat);
        noTrace.TraceId = ByteString.Empty;
        var zeroSpan = Otlp.Span("chat", Chat);
        zeroSpan.SpanId = ByteString.CopyFrom(new byte[8]);

        var result = SpanUsageMapper.Map(Otlp.Request(noTrace, zeroSpan));

        Assert.Empty(result.Usage);
        Assert.Collection(result.Rejected,
            r => Assert.Contains("trace id", r.Reason),
            r => Assert.Contains("span id", r.Reason));
    }

    [Fact]
    public void SpansAcrossResourcesKeepTheirOwnResourcesAttribution()
    {
        var request = Otlp.Request([("service.name", "first")], Otlp.Span("chat", Chat, spanId: "0000000000000001"));
        request.ResourceSpans.Add(Otlp.Request([("service.name", "second")], Otlp.Span("chat", Chat, spanId: "0000000000000002")).ResourceSpans);

        var usage = SpanUsageMapper.Map(request).Usage;

        Assert.Equal(["first", "second"], usage.Select(u => u.Event.Application));
    }

    [Fact]
    public void UsageThatNamesNoModelIsStillAnEventMarkedModelMissing()
    {
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span("llm call", [("gen_ai.usage.input_tokens", 120), ("gen_ai.usage.output_tokens", 30)])));

        var usage = Assert.Single(result.Usage);
        Assert.Equal(("", ""), (usage.Event.Model, usage.Event.Provider));
        Assert.Equal((120L, 30L), (usage.Event.Usage.InputTokens, usage.Event.Usage.OutputTokens));
        Assert.Equal("model_missing", usage.Event.Metadata[SpanUsageMapper.UnpricedReasonKey]);
        Assert.Empty(result.Rejected);
    }

    [Fact]
    public void AReportedCostIsIgnoredAndNoted()
    {
        var result = SpanUsageMapper.Map(Otlp.Request(Otlp.Span("chat", [.. Chat, ("gen_ai.usage.cost", 0.0123), ("llm.cost.total", "0.02")])));

        var usage = Assert.Single(result.Usage);
        Assert.Contains(SpanNotes.ReportedCostIgnored, usage.Notes);
        Assert.Equal("", usage.Event.ClientCostUsd);
        Assert.DoesNotContain(usage.Event.Metadata.Keys, k => k.Contains("cost", StringComparison.Ordinal));
    }

    [Fact]
    public void SummariesOfChildrenAloneAreNotUsage()
    {
        // pydantic-ai's agent run span: gen_ai.aggregated_usage.* sums its model requests; a total alone has no split.
        var result = SpanUsageMapper.Map(Otlp.Request(
            Otlp.Span("agent run", [("gen_ai.aggregated_usage.input_tokens", 900), ("gen_ai.aggregated_usage.output_tokens", 80)]),
            Otlp.Span("chat", [("gen_ai.usage.total_tokens", 50)], spanId: "0000000000000abc")));

        Assert.Empty(result.Usage);
        Assert.Empty(result.Rejected);
        Assert.Equal(2, result.Spans.Count);
    }
}
