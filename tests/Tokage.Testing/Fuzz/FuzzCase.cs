using Grpc.Core;

namespace Tokage.Testing.Fuzz;

/// <summary>The public ingestion endpoints a fuzz run covers, by the name the report gives them.</summary>
public static class FuzzEndpoints
{
    public const string Event = "POST /v1/events";
    public const string Batch = "POST /v1/events/batch";
    public const string GrpcIngest = "gRPC IngestService/Ingest";
    public const string GrpcIngestBatch = "gRPC IngestService/IngestBatch";
    public const string GrpcIngestStream = "gRPC IngestService/IngestStream";
    public const string OtlpProtobuf = "POST /v1/traces (protobuf)";
    public const string OtlpJson = "POST /v1/traces (JSON)";
    public const string OtlpGrpc = "gRPC TraceService/Export";

    public static IReadOnlyList<string> All { get; } =
        [Event, Batch, GrpcIngest, GrpcIngestBatch, GrpcIngestStream, OtlpProtobuf, OtlpJson, OtlpGrpc];
}

/// <summary>
/// One input the service must refuse: which endpoint it goes to, what kind of bad it is (the report's grouping),
/// a name that says exactly what it is, the request, and what the answer must be beyond "refused, with a message".
/// </summary>
public sealed record FuzzCase(string Endpoint, string Kind, string Name, FuzzInput Input, FuzzExpectation Expect)
{
    public override string ToString() => $"{Endpoint} [{Kind}] {Name}";
}

/// <summary>A header or gRPC metadata entry. Values may hold <see cref="FuzzKeys"/> placeholders, filled in when sent.</summary>
public sealed record FuzzHeader(string Name, string Value);

/// <summary>
/// Placeholders for the keys of the run, so the corpus stays the same whatever keys the stack issued. The runner
/// replaces them in header values.
/// </summary>
public static class FuzzKeys
{
    /// <summary>The fuzz tenant's key, with the ingest scope.</summary>
    public const string Valid = "{valid-key}";

    /// <summary>A key of the same tenant with the read scope only.</summary>
    public const string ReadOnly = "{read-only-key}";

    /// <summary>A key of the same tenant, revoked before the run.</summary>
    public const string Revoked = "{revoked-key}";

    /// <summary>The valid key without its last character.</summary>
    public const string ValidLessLastCharacter = "{valid-key-less-last-character}";

    /// <summary>The valid key in lower case: another secret, since base62 is case-sensitive.</summary>
    public const string ValidLowerCase = "{valid-key-lower-case}";

    /// <summary>A header value with the placeholders replaced by the run's keys.</summary>
    public static string Fill(string value, string valid, string readOnly, string revoked) => value
        .Replace(ValidLessLastCharacter, valid[..^1], StringComparison.Ordinal)
        .Replace(ValidLowerCase, valid.ToLowerInvariant(), StringComparison.Ordinal)
        .Replace(Valid, valid, StringComparison.Ordinal)
        .Replace(ReadOnly, readOnly, StringComparison.Ordinal)
        .Replace(Revoked, revoked, StringComparison.Ordinal);

    public static IReadOnlyList<FuzzHeader> Bearer(string key) => [new("Authorization", $"Bearer {key}")];
}

public abstract record FuzzInput;

/// <summary>An HTTP POST. Content-Type and Content-Encoding go in <paramref name="Headers"/> like any other.</summary>
public sealed record HttpFuzzInput(string Path, byte[] Body, IReadOnlyList<FuzzHeader> Headers) : FuzzInput;

/// <summary>
/// A gRPC call whose messages are sent as the given bytes (an identity marshaller), so they may be anything; a
/// unary call has exactly one message.
/// </summary>
public sealed record GrpcFuzzInput(string Service, string Method, MethodType Type, IReadOnlyList<byte[]> Messages, IReadOnlyList<FuzzHeader> Metadata) : FuzzInput;

/// <summary>
/// A gRPC request written by hand over HTTP/2: the length-prefixed frames as given, with the compressed flag and
/// <c>grpc-encoding</c> the client's library would never send for these bytes (a compressed-message bomb).
/// </summary>
public sealed record RawGrpcFuzzInput(string Path, byte[] Frames, IReadOnlyList<FuzzHeader> Headers) : FuzzInput;

/// <summary>What the answer to a case must be besides a refusal with a clear message.</summary>
public sealed record FuzzExpectation
{
    /// <summary>The HTTP status the README names for this input, when it names one.</summary>
    public int? HttpStatus { get; init; }

    /// <summary>The gRPC status the README names for this input, when it names one.</summary>
    public StatusCode? GrpcStatus { get; init; }

    /// <summary>
    /// OTLP only: the export decodes and carries this many spans with usage, every one of which must be refused. OTLP
    /// answers that with success and a <c>partial_success</c> counting and naming them, not with an error.
    /// </summary>
    public int? RejectedSpans { get; init; }

    /// <summary>
    /// OTLP only: the bytes happen to decode into an export with nothing to bill (garbage that is valid protobuf,
    /// spans that carry no usage). OTLP answers success with nothing accepted; what matters then is that nothing is stored.
    /// </summary>
    public bool NothingToBill { get; init; }

    public static FuzzExpectation Http(int status) => new() { HttpStatus = status };

    public static FuzzExpectation Grpc(StatusCode status) => new() { GrpcStatus = status };
}
