namespace Tokage.Testing.Fuzz;

/// <summary>The whole bad-input corpus, by endpoint. Deterministic: the same settings give the same cases in the same order.</summary>
public static class FuzzCorpus
{
    public static IEnumerable<FuzzCase> For(string endpoint, FuzzSettings settings) => endpoint switch
    {
        FuzzEndpoints.Event => NativeJsonCorpus.SingleEvents(settings),
        FuzzEndpoints.Batch => NativeJsonCorpus.Batches(settings),
        FuzzEndpoints.GrpcIngest => NativeGrpcCorpus.Ingest(settings),
        FuzzEndpoints.GrpcIngestBatch => NativeGrpcCorpus.IngestBatch(settings),
        FuzzEndpoints.GrpcIngestStream => NativeGrpcCorpus.IngestStream(settings),
        FuzzEndpoints.OtlpProtobuf => OtlpCorpus.HttpProtobuf(settings),
        FuzzEndpoints.OtlpJson => OtlpCorpus.HttpJson(settings),
        FuzzEndpoints.OtlpGrpc => OtlpCorpus.Grpc(settings),
        _ => throw new ArgumentException($"No corpus for '{endpoint}'.", nameof(endpoint)),
    };

    public static IEnumerable<FuzzCase> All(FuzzSettings settings) => FuzzEndpoints.All.SelectMany(e => For(e, settings));
}
