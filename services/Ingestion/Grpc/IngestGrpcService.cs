using Grpc.Core;
using Microsoft.Extensions.Options;
using Tokage.ApiKeys;
using Tokage.Contracts.V1;
using Tokage.Ingestion.Ingest;

namespace Tokage.Ingestion.Grpc;

/// <summary><c>tokage.v1.IngestService</c>: the same rules and answers as the HTTP API, in gRPC status codes.</summary>
internal sealed class IngestGrpcService(IngestPipeline pipeline, IApiKeyResolver keys, IOptions<IngestOptions> options) : IngestService.IngestServiceBase
{
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
        var events = new List<TokenUsageEvent>();
        await foreach (var e in requestStream.ReadAllAsync(context.CancellationToken))
        {
            events.Add(e);
            if (events.Count > options.Value.MaxBatchEvents)
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"A stream carries at most {options.Value.MaxBatchEvents:N0} events per call."));
            }
        }

        if (events.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "The stream carried no events."));
        }

        return await IngestAsync(events, context);
    }

    private async Task<IngestResponse> IngestAsync(IReadOnlyList<TokenUsageEvent> events, ServerCallContext context)
    {
        if (events.Count > options.Value.MaxBatchEvents)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"A batch holds at most {options.Value.MaxBatchEvents:N0} events; this one has {events.Count:N0}."));
        }

        var identity = await GrpcCaller.AuthenticateAsync(keys, context, ApiKeyScopes.Ingest);

        var outcome = await pipeline.IngestAsync(identity, events.Select(e => new IngestCandidate(e, [], false)).ToList(), "grpc", context.CancellationToken);
        switch (outcome.Failure)
        {
            case IngestFailure.RateLimited:
                throw GrpcCaller.Retryable(StatusCode.ResourceExhausted, "The tenant's rate limit is reached; nothing was accepted.", (int)Math.Ceiling(outcome.RetryAfter.TotalSeconds));
            case IngestFailure.LogUnavailable:
                throw GrpcCaller.Retryable(StatusCode.Unavailable, "The event log did not acknowledge in time; nothing was accepted. Retry with the same event ids.", 1);
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
            var trailers = new Metadata { { "tokage-rejections-bin", Google.Protobuf.MessageExtensions.ToByteArray(response) } };
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"No event was valid: {string.Join("; ", response.Rejected.Take(5).Select(r => $"#{r.Index} {string.Join(", ", r.Errors.Select(e => $"{e.Field}: {e.Code}"))}"))}"), trailers);
        }

        return response;
    }
}
