using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using OpenTelemetry.Proto.Collector.Trace.V1;
using Tokage.Contracts.V1;

namespace Tokage.Testing.Fuzz;

/// <summary>The keys a run fills the corpus's <see cref="FuzzKeys"/> placeholders with.</summary>
public sealed record FuzzKeySet(string Valid, string ReadOnly, string Revoked)
{
    public string Fill(string value) => FuzzKeys.Fill(value, Valid, ReadOnly, Revoked);
}

/// <summary>
/// Sends cases to an ingestion instance one at a time and judges each answer: refused with the status the README
/// names and a message that says what is wrong; never a server error, never taken.
/// </summary>
public sealed class FuzzRunner : IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);

    // Past the calls' own timeouts: a case that is still not answered then is reported, not waited for.
    private static readonly TimeSpan CaseTimeout = CallTimeout + TimeSpan.FromSeconds(30);

    // Everything comes back as sent: no decompression, no retries, no size limits on the client's side.
    private static readonly Marshaller<byte[]> Identity = Marshallers.Create(bytes => bytes, bytes => bytes);

    private static readonly HashSet<StatusCode> ServerErrorCodes = [StatusCode.Internal, StatusCode.Unknown, StatusCode.Unavailable, StatusCode.DataLoss];

    private readonly Uri grpcUri;
    private readonly FuzzKeySet keys;
    private readonly HttpClient http;
    private readonly HttpClient h2c;
    private readonly GrpcChannel channel;

    public FuzzRunner(Uri httpUri, Uri grpcUri, FuzzKeySet keys)
    {
        this.grpcUri = grpcUri;
        this.keys = keys;
        http = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = httpUri, Timeout = CallTimeout };
        h2c = new HttpClient(new SocketsHttpHandler()) { Timeout = CallTimeout };
        channel = GrpcChannel.ForAddress(grpcUri, new GrpcChannelOptions { MaxSendMessageSize = null, MaxReceiveMessageSize = null });
    }

    /// <summary>Every case of <paramref name="cases"/>, in order, into one report per endpoint.</summary>
    public async Task<IReadOnlyList<EndpointReport>> RunAsync(IEnumerable<FuzzCase> cases)
    {
        var reports = new Dictionary<string, EndpointReport>();
        foreach (var c in cases)
        {
            if (!reports.TryGetValue(c.Endpoint, out var report))
            {
                reports[c.Endpoint] = report = new EndpointReport(c.Endpoint);
            }

            report.Add(await SendAsync(c));
        }

        return [.. reports.Values];
    }

    public async Task<FuzzOutcome> SendAsync(FuzzCase c)
    {
        try
        {
            var sending = c.Input switch
            {
                HttpFuzzInput input => SendHttpAsync(c, input),
                GrpcFuzzInput input => SendGrpcAsync(c, input),
                RawGrpcFuzzInput input => SendRawGrpcAsync(c, input),
                _ => throw new ArgumentException($"No sender for {c.Input.GetType().Name}."),
            };
            return await sending.WaitAsync(CaseTimeout);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException or TimeoutException)
        {
            return new FuzzOutcome(c, "no answer", FuzzVerdict.NoAnswer, $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    private async Task<FuzzOutcome> SendHttpAsync(FuzzCase c, HttpFuzzInput input)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, input.Path) { Content = new ByteArrayContent(input.Body) };
        foreach (var header in input.Headers)
        {
            var value = keys.Fill(header.Value);
            var added = header.Name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase)
                ? request.Content.Headers.TryAddWithoutValidation(header.Name, value)
                : request.Headers.TryAddWithoutValidation(header.Name, value);
            if (!added)
            {
                throw new InvalidOperationException($"{c}: the header {header.Name} could not be set.");
            }
        }

        using var response = await http.SendAsync(request);
        var status = (int)response.StatusCode;
        var body = await response.Content.ReadAsByteArrayAsync();
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        var shown = Show(body, mediaType);

        if (status >= 500)
        {
            return new(c, status.ToString(System.Globalization.CultureInfo.InvariantCulture), FuzzVerdict.ServerError, shown);
        }

        if (status is >= 200 and < 300)
        {
            return input.Path == "/v1/traces"
                ? JudgeExportSuccess(c, $"{status}", DecodeExportResponse(body, mediaType), shown)
                : new(c, $"{status}", FuzzVerdict.Accepted, shown);
        }

        var message = HttpErrorMessage(body, mediaType);
        var verdict = status switch
        {
            // A rate limit is only taken by valid events: a 429 means something passed validation.
            429 => FuzzVerdict.WrongStatus,
            < 400 => FuzzVerdict.WrongStatus,
            _ when c.Expect.RejectedSpans is not null || c.Expect.NothingToBill => FuzzVerdict.WrongStatus,
            _ when c.Expect.HttpStatus is { } expected && expected != status => FuzzVerdict.WrongStatus,
            _ when message is null => FuzzVerdict.Unclear,
            _ => FuzzVerdict.Refused,
        };
        return new(c, $"{status}", verdict, verdict == FuzzVerdict.Refused ? Shorten(message!) : Expected(c) + shown);
    }

    private async Task<FuzzOutcome> SendGrpcAsync(FuzzCase c, GrpcFuzzInput input)
    {
        var method = new Method<byte[], byte[]>(input.Type, input.Service, input.Method, Identity, Identity);
        var metadata = new Metadata();
        foreach (var entry in input.Metadata)
        {
            metadata.Add(entry.Name, keys.Fill(entry.Value));
        }

        var options = new CallOptions(metadata, deadline: DateTime.UtcNow.Add(CallTimeout));
        var invoker = channel.CreateCallInvoker();
        try
        {
            byte[] response;
            switch (input.Type)
            {
                case MethodType.Unary:
                    response = await invoker.AsyncUnaryCall(method, null, options, input.Messages.Single()).ResponseAsync;
                    break;
                case MethodType.ClientStreaming:
                    using (var call = invoker.AsyncClientStreamingCall(method, null, options))
                    {
                        // A refusal can end the call while a write waits to be sent: that write is then abandoned.
                        // (Not disposed: it has no timer, and the continuation may run after this block.)
                        var ended = new CancellationTokenSource();
                        _ = call.ResponseAsync.ContinueWith(_ => ended.Cancel(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                        await WriteAllAsync(call.RequestStream, input.Messages, ended.Token);
                        response = await call.ResponseAsync;
                    }

                    break;
                default:
                    throw new ArgumentException($"{input.Type} calls are not in the corpus.");
            }

            return JudgeGrpc(c, input.Service, StatusCode.OK, "", new Metadata(), response);
        }
        catch (RpcException ex)
        {
            return JudgeGrpc(c, input.Service, ex.StatusCode, ex.Status.Detail, ex.Trailers, []);
        }
    }

    /// <summary>Writes until the server ends the call (a refusal part-way through a stream ends it early).</summary>
    private static async Task WriteAllAsync(IClientStreamWriter<byte[]> stream, IReadOnlyList<byte[]> messages, CancellationToken ended)
    {
        try
        {
            foreach (var message in messages)
            {
                await stream.WriteAsync(message, ended);
            }

            await stream.CompleteAsync();
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException or OperationCanceledException)
        {
            // The call is over; its status is in the response.
        }
    }

    private async Task<FuzzOutcome> SendRawGrpcAsync(FuzzCase c, RawGrpcFuzzInput input)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(grpcUri, input.Path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(input.Frames),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        foreach (var header in input.Headers)
        {
            request.Headers.TryAddWithoutValidation(header.Name, keys.Fill(header.Value));
        }

        using var response = await h2c.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        string? Header(string name) =>
            response.TrailingHeaders.TryGetValues(name, out var trailer) ? trailer.FirstOrDefault()
            : response.Headers.TryGetValues(name, out var header) ? header.FirstOrDefault()
            : null;

        if (Header("grpc-status") is not { } statusText || !int.TryParse(statusText, out var status))
        {
            var code = (int)response.StatusCode;
            return new(c, $"HTTP {code}", code >= 500 ? FuzzVerdict.ServerError : FuzzVerdict.Unclear, "no grpc-status");
        }

        var trailers = new Metadata();
        if (Header("retry-after") is { } retryAfter)
        {
            trailers.Add("retry-after", retryAfter);
        }

        var message = body.Length >= 5 ? body[5..] : [];
        return JudgeGrpc(c, ServiceOf(input.Path), (StatusCode)status, Uri.UnescapeDataString(Header("grpc-message") ?? ""), trailers, message);
    }

    private static string ServiceOf(string path) => path.Trim('/').Split('/')[0];

    private static FuzzOutcome JudgeGrpc(FuzzCase c, string service, StatusCode status, string detail, Metadata trailers, byte[] response)
    {
        if (status == StatusCode.OK)
        {
            if (service == OtlpCorpus.Service)
            {
                return JudgeExportSuccess(c, "OK", ExportTraceServiceResponse.Parser.ParseFrom(response), "");
            }

            var answer = IngestResponse.Parser.ParseFrom(response);
            return new(c, "OK", FuzzVerdict.Accepted, $"accepted {answer.Accepted}, rejected {answer.Rejected.Count}");
        }

        var verdict = status switch
        {
            _ when ServerErrorCodes.Contains(status) => FuzzVerdict.ServerError,
            StatusCode.DeadlineExceeded => FuzzVerdict.NoAnswer,
            // The rate limit's RESOURCE_EXHAUSTED carries retry-after; only valid events take from it.
            StatusCode.ResourceExhausted when trailers.Get("retry-after") is not null => FuzzVerdict.WrongStatus,
            _ when c.Expect.RejectedSpans is not null || c.Expect.NothingToBill => FuzzVerdict.WrongStatus,
            _ when c.Expect.GrpcStatus is { } expected && expected != status => FuzzVerdict.WrongStatus,
            _ when string.IsNullOrWhiteSpace(detail) => FuzzVerdict.Unclear,
            _ => FuzzVerdict.Refused,
        };
        return new(c, status.ToString(), verdict, verdict == FuzzVerdict.Refused ? Shorten(detail) : Expected(c) + Shorten(detail));
    }

    /// <summary>
    /// OTLP success is a refusal only when <c>partial_success</c> counts every span the case must have refused and
    /// says why; it is allowed without one only for bytes that decode into nothing to bill.
    /// </summary>
    private static FuzzOutcome JudgeExportSuccess(FuzzCase c, string status, ExportTraceServiceResponse? response, string shown)
    {
        var rejected = response?.PartialSuccess?.RejectedSpans ?? 0;
        var message = response?.PartialSuccess?.ErrorMessage ?? "";
        var detail = $"rejected_spans {rejected}: {Shorten(message)}";
        if (c.Expect.RejectedSpans is { } expected)
        {
            return rejected == expected && !string.IsNullOrWhiteSpace(message)
                ? new(c, $"{status} partial_success", FuzzVerdict.Refused, Shorten(message))
                : new(c, $"{status} partial_success", rejected == 0 ? FuzzVerdict.Accepted : FuzzVerdict.WrongStatus, $"expected {expected} rejected spans; {detail}");
        }

        if (c.Expect.NothingToBill && rejected == 0)
        {
            return new(c, $"{status} nothing to bill", FuzzVerdict.NothingToBill, "success, nothing accepted");
        }

        return new(c, status, rejected > 0 ? FuzzVerdict.WrongStatus : FuzzVerdict.Accepted, Expected(c) + (response is null ? shown : detail));
    }

    private static ExportTraceServiceResponse? DecodeExportResponse(byte[] body, string? mediaType)
    {
        try
        {
            return mediaType == "application/json"
                ? JsonParser.Default.Parse<ExportTraceServiceResponse>(Encoding.UTF8.GetString(body))
                : ExportTraceServiceResponse.Parser.ParseFrom(body);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// What a 4xx says is wrong, or null when it says nothing readable: problem details' <c>detail</c>, the first error
    /// of the ingest answer (which must list every rejected event with its errors), or a <c>google.rpc.Status</c>'s
    /// message (OTLP), in JSON or protobuf.
    /// </summary>
    private static string? HttpErrorMessage(byte[] body, string? mediaType)
    {
        if (body.Length == 0)
        {
            return null;
        }

        if (mediaType == "application/x-protobuf")
        {
            try
            {
                return NullIfBlank(Google.Rpc.Status.Parser.ParseFrom(body).Message);
            }
            catch (InvalidProtocolBufferException)
            {
                return null;
            }
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            if ((Text(root, "detail") ?? Text(root, "message")) is { } message)
            {
                return message;
            }

            var everyRejectionExplained = root.TryGetProperty("rejected", out var rejected) && rejected.ValueKind == JsonValueKind.Array && rejected.GetArrayLength() > 0
                && rejected.EnumerateArray().All(r => r.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array
                    && errors.GetArrayLength() > 0 && errors.EnumerateArray().All(e => Text(e, "message") is not null && (Text(e, "field") ?? Text(e, "code")) is not null));
            if (!everyRejectionExplained)
            {
                return null;
            }

            var first = rejected[0].GetProperty("errors")[0];
            return $"{Text(first, "field")}: {Text(first, "code")}: {Text(first, "message")}";
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? NullIfBlank(value.GetString())
            : null;

    private static string? NullIfBlank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;

    private static string Expected(FuzzCase c) => c.Expect switch
    {
        { HttpStatus: { } status } => $"expected {status}; ",
        { GrpcStatus: { } status } => $"expected {status}; ",
        { RejectedSpans: { } spans } => $"expected {spans} rejected spans; ",
        { NothingToBill: true } => "expected nothing to bill; ",
        _ => "",
    };

    private static string Show(byte[] body, string? mediaType) =>
        body.Length == 0 ? "(empty body)"
        : mediaType is "application/x-protobuf" ? $"({body.Length} bytes of protobuf)"
        : Shorten(Encoding.UTF8.GetString(body));

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;

    public void Dispose()
    {
        http.Dispose();
        h2c.Dispose();
        channel.Dispose();
    }
}
