using Grpc.Core;
using OpenTelemetry.Proto.Collector.Trace.V1;
using Tokage.ApiKeys;
using Tokage.Ingestion.Grpc;
using Tokage.Ingestion.Ingest;

namespace Tokage.Ingestion.Otlp;

/// <summary>OTLP/gRPC <c>TraceService/Export</c>: the HTTP rules in status codes (UNAVAILABLE and RESOURCE_EXHAUSTED are retryable, with <c>retry-after</c>).</summary>
[BindServiceMethod(typeof(OtlpTraceGrpcService), nameof(BindService))]
internal sealed class OtlpTraceGrpcService(OtlpIngest ingest, IApiKeyResolver keys) : TraceService.TraceServiceBase
{
    /// <summary>
    /// The generated binding, except that an export that does not decode is INVALID_ARGUMENT (<see cref="GrpcDecoding"/>).
    /// The second parameter is the generated base: grpc-dotnet finds the handler as an override of its method.
    /// </summary>
    public static void BindService(ServiceBinderBase binder, TraceService.TraceServiceBase? service) =>
        binder.AddMethod(
            GrpcDecoding.Method(MethodType.Unary, TraceService.Descriptor.FullName, nameof(Export), ExportTraceServiceRequest.Parser, ExportTraceServiceResponse.Parser),
            (UnaryServerMethod<ExportTraceServiceRequest, ExportTraceServiceResponse>?)null);

    public override async Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
    {
        var identity = await GrpcCaller.AuthenticateAsync(keys, context, ApiKeyScopes.Ingest);
        var outcome = await ingest.IngestAsync(identity, request, context.CancellationToken);
        return outcome.Failure switch
        {
            IngestFailure.RateLimited => throw GrpcCaller.Retryable(StatusCode.ResourceExhausted, "The tenant's rate limit is reached; nothing was accepted.", (int)Math.Ceiling(outcome.RetryAfter.TotalSeconds)),
            IngestFailure.LogUnavailable => throw GrpcCaller.Retryable(StatusCode.Unavailable, "The event log did not acknowledge in time; nothing was accepted. Retry the export.", 1),
            IngestFailure.LimiterUnavailable => throw GrpcCaller.Retryable(StatusCode.Unavailable, outcome.FailureDetail!, (int)Math.Ceiling(outcome.RetryAfter.TotalSeconds)),
            IngestFailure.ExceedsBurst => throw new RpcException(new Status(StatusCode.InvalidArgument, outcome.FailureDetail!)),
            IngestFailure.AncestryUnavailable => throw GrpcCaller.Retryable(StatusCode.Unavailable,
                "Which spans have usage below them cannot be read (Redis); nothing was accepted. Retry the export.", (int)outcome.RetryAfter.TotalSeconds),
            _ => outcome.Response,
        };
    }
}
