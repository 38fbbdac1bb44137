using Grpc.Core;
using Microsoft.Extensions.Options;
using Tokage.ApiKeys;
using Tokage.Contracts.V1;
using Tokage.Ingestion.Ingest;

namespace Tokage.Ingestion.Grpc;

/// <summary><c>tokage.v1.IngestService</c>: the same rules and answers as the HTTP API, in gRPC status codes.</summary>
[BindServiceMethod(typeof(IngestGrpcService), nameof(BindService))]
internal sealed class IngestGrpcService(IngestPipeline pipeline, IApiKeyResolver keys, IOptions<IngestOptions> options) : IngestService.IngestServiceBase
{
    /// <summary>
    /// Trailers travel as HTTP/2 headers, which clients cap (grpc-java at 8 KiB): the rejections sent there are the
    /// first that fit in this many bytes, event ids cut to their limit.
    /// </summary>
    public const int MaxRejectionTrailerBytes = 4 * 1024;

    /// <summary>
    /// The generated binding, except that a message that does not decode is INVALID_ARGUMENT (<see cref="GrpcDecoding"/>).
    /// The second parameter is the generated base: grpc-dotnet finds the handlers as overrides of its methods.
    /// </summary>
    public static void BindService(ServiceBinderBase binder, IngestService.IngestServiceBase? service)
    {
        var name = IngestService.Descriptor.FullName;
        binder.AddMethod(GrpcDecoding.Method(MethodType.Unary, name, nameof(Ingest), TokenUsageEvent.Parser, IngestResponse.Parser), (UnaryServerMethod<TokenUsageEvent, IngestResponse>?)null);
        binder.AddMethod(GrpcDecoding.Method(MethodType.Unary, name, nameof(IngestBatch), IngestBatchRequest.Parser, IngestResponse.Parser), (UnaryServerMethod<IngestBatchRequest, IngestResponse>?)null);
        binder.AddMethod(GrpcDecoding.Method(MethodType.ClientStreaming, name, nameof(IngestStream), TokenUsageEvent.Parser, IngestResponse.Parser), (ClientStreamingServerMethod<TokenUsageEvent, IngestResponse>?)null);
    }

    public override Task<IngestResponse> Ingest(TokenUsageEvent request, ServerCallContext context) =>
        IngestAsync([request], context);

    public override Task<IngestResponse> IngestBatch(IngestBatchRequest request, ServerCallContext context)
    {
        if (request.Events.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "The batch has no events."));
        }

        return IngestAsync(request.Events, context);
    }

    public override async Task<IngestResponse> IngestStream(IAsyncStreamReader<TokenUsageEvent> requestStream, ServerCallContext context)
    {
        // The key comes with the call's headers: checked before any message is held, and the messages held are capped
        // in bytes as a batch is (each may be up to the message limit, and a stream has a thousand of them).
        var identity = await GrpcCaller.AuthenticateAsync(keys, context, ApiKeyScopes.Ingest);
        var events = new List<TokenUsageEvent>();
        long bytes = 0;
        await foreach (var e in requestStream.ReadAllAsync(context.CancellationToken))
        {
            events.Add(e);
            bytes += e.CalculateSize();
            if (events.Count > options.Value.MaxBatchEvents)
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"A stream carries at most {options.Value.MaxBatchEvents:N0} events per call."));
            }

            if (bytes > options.Value.MaxBatchBytes)
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"A stream carries at most {options.Value.MaxBatchBytes:N0} bytes of events per call."));
            }
        }

        if (events.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "The stream carried no events."));
        }

        return await IngestAsync(events, context, identity);
    }

    private async Task<IngestResponse> IngestAsync(IReadOnlyList<TokenUsageEvent> events, ServerCallContext context, ApiKeyIdentity? identity = null)
    {
        if (events.Count > options.Value.MaxBatchEvents)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"A batch holds at most {options.Value.MaxBatchEvents:N0} events; this one has {events.Count:N0}."));
        }

        identity ??= await GrpcCaller.AuthenticateAsync(keys, context, ApiKeyScopes.Ingest);

        var outcome = await pipeline.IngestAsync(identity, events.Select(e => new IngestCandidate(e, [], false)).ToList(), "grpc", context.CancellationToken);
        switch (outcome.Failure)
        {
            case IngestFailure.RateLimited:
                throw GrpcCaller.Retryable(StatusCode.ResourceExhausted, "The tenant's rate limit is reached; nothing was accepted.", (int)Math.Ceiling(outcome.RetryAfter.TotalSeconds));
            case IngestFailure.LogUnavailable:
                throw GrpcCaller.Retryable(StatusCode.Unavailable, "The event log did not acknowledge in time; nothing was accepted. Retry with the same event ids.", 1);
            case IngestFailure.LimiterUnavailable:
                throw GrpcCaller.Retryable(StatusCode.Unavailable, outcome.FailureDetail!, (int)Math.Ceiling(outcome.RetryAfter.TotalSeconds));
            case IngestFailure.ExceedsBurst:
                throw new RpcException(new Status(StatusCode.InvalidArgument, outcome.FailureDetail!));
        }

        var response = new IngestResponse { Accepted = outcome.Accepted, Warnings = { outcome.Warnings } };
        response.Rejected.AddRange(outcome.Rejected.Select(r => new EventRejection
        {
            Index = r.Index,
            EventId = r.EventId,
            Errors = { r.Errors.Select(p => new FieldError { Field = p.Field, Code = p.Code, Message = p.Message }) },
        }));
        if (outcome.Accepted == 0)
        {
            // Nothing valid: the details ride in the trailers as the serialized response.
            var trailers = new Metadata { { "tokage-rejections-bin", Google.Protobuf.MessageExtensions.ToByteArray(ForTrailer(response)) } };
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"No event was valid: {string.Join("; ", response.Rejected.Take(5).Select(r => $"#{r.Index} {string.Join(", ", r.Errors.Select(e => $"{e.Field}: {e.Code}"))}"))}"), trailers);
        }

        return response;
    }

    /// <summary><paramref name="response"/> within <see cref="MaxRejectionTrailerBytes"/>: its first rejections, and a warning counting the rest.</summary>
    private static IngestResponse ForTrailer(IngestResponse response)
    {
        var trimmed = new IngestResponse { Accepted = response.Accepted, Warnings = { response.Warnings } };
        foreach (var rejection in response.Rejected)
        {
            var shortened = rejection.Clone();
            if (shortened.EventId.Length > Validation.EventValidator.MaxEventIdLength)
            {
                shortened.EventId = shortened.EventId[..Validation.EventValidator.MaxEventIdLength] + "…";
            }

            // Room is kept for the warning below (a few dozen bytes).
            if (trimmed.CalculateSize() + shortened.CalculateSize() + 128 > MaxRejectionTrailerBytes)
            {
                break;
            }

            trimmed.Rejected.Add(shortened);
        }

        if (trimmed.Rejected.Count < response.Rejected.Count)
        {
            trimmed.Warnings.Add($"{response.Rejected.Count - trimmed.Rejected.Count} more rejected events are not listed (this trailer is capped at {MaxRejectionTrailerBytes:N0} bytes).");
        }

        return trimmed;
    }
}
