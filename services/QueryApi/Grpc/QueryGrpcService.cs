using Grpc.Core;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Primitives;
using Tokage.Analytics.Queries;
using Tokage.ApiKeys;
using Tokage.Contracts.V1;
using Tokage.EventLog;
using Tokage.QueryApi.Apis;

namespace Tokage.QueryApi.Grpc;

/// <summary><c>tokage.v1.QueryService</c>: the REST rules (the same parsing, the same queries) in gRPC status codes.</summary>
internal sealed class QueryGrpcService(IApiKeyResolver keys, UsageQueries queries, TenantQueryLimits limits, EventLookups lookups, DedupeClaims claims)
    : QueryService.QueryServiceBase
{
    public override async Task<BreakdownResponse> Breakdown(BreakdownRequest request, ServerCallContext context)
    {
        var tenant = await TenantAsync(context);
        var parameters = new Dictionary<string, StringValues>
        {
            ["from"] = request.From?.ToDateTimeOffset().ToString("O") ?? "",
            ["to"] = request.To?.ToDateTimeOffset().ToString("O") ?? "",
            ["group_by"] = string.Join(',', request.GroupBy),
            ["tz"] = request.Tz,
        };
        foreach (var (dimension, value) in request.Filters)
        {
            parameters[$"filter[{dimension}]"] = value;
        }

        var (query, errors) = UsageApi.Parse(new QueryCollection(parameters));
        UsageDimension? interval = request.Interval switch { "" => null, "hour" => UsageDimension.Hour, "day" => UsageDimension.Day, _ => UsageDimension.Provider };
        if (interval == UsageDimension.Provider)
        {
            errors["interval"] = ["'interval' is empty, hour or day."];
        }

        if (errors.Count > 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, string.Join(" ", errors.SelectMany(e => e.Value))));
        }

        if (interval is { } time)
        {
            query = query! with { GroupBy = [time, .. query.GroupBy.Where(d => d != time)] };
        }

        BreakdownResult result;
        try
        {
            result = await limits.RunAsync(tenant, () => queries.BreakdownAsync(tenant, query!, context.CancellationToken));
        }
        catch (ArgumentException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message));
        }
        catch (QueryRefusedException refused)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, refused.Message));
        }

        var response = new BreakdownResponse { Source = result.Source.WireName(), Totals = Row(new Dictionary<UsageDimension, string>(), result.Totals) };
        response.Rows.AddRange(result.Rows.Select(r => Row(r.Keys, r.Totals)));
        return response;
    }

    public override async Task<EventStatusResponse> GetEventStatus(GetEventStatusRequest request, ServerCallContext context)
    {
        var tenant = await TenantAsync(context);
        if (request.EventId.Length == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "'event_id' is required."));
        }

        var records = await lookups.FindAsync(tenant, request.EventId, context.CancellationToken);
        if (records.Processed is { } p)
        {
            return new EventStatusResponse
            {
                Status = "processed", CostUsd = p.Priced ? Money.Format(p.CostUsd) : "", PriceVersionId = p.PriceVersionId, PricedModel = p.PricedModel,
                Classification = p.Classification, LogPosition = p.LogPosition, Duplicates = (uint)records.Duplicates.Count,
            };
        }

        if (records.Quarantined is [var q, ..])
        {
            return new EventStatusResponse { Status = "quarantined", Reason = $"{q.Reason}: {q.Detail}", LogPosition = q.LogPosition };
        }

        return await claims.HolderAsync(tenant, request.EventId) is { } position
            ? new EventStatusResponse { Status = "accepted", LogPosition = position }
            : new EventStatusResponse { Status = "unknown" };
    }

    private async Task<string> TenantAsync(ServerCallContext context)
    {
        var (tenant, refusal) = await Caller.TenantAsync(context.GetHttpContext(), keys);
        if (refusal is null)
        {
            return tenant!;
        }

        var (code, message) = refusal is ProblemHttpResult problem
            ? (problem.StatusCode switch
            {
                StatusCodes.Status403Forbidden => StatusCode.PermissionDenied,
                StatusCodes.Status503ServiceUnavailable => StatusCode.Unavailable,
                StatusCodes.Status400BadRequest => StatusCode.InvalidArgument,
                _ => StatusCode.Unauthenticated,
            }, problem.ProblemDetails.Detail ?? "Refused.")
            : (StatusCode.InvalidArgument, "With the admin token, name the tenant.");
        throw new RpcException(new Status(code, message));
    }

    private static UsageRow Row(IReadOnlyDictionary<UsageDimension, string> keys, UsageTotals totals)
    {
        var row = new UsageRow
        {
            Events = totals.Events, UnpricedEvents = totals.UnpricedEvents, InputTokens = totals.InputTokens, CacheReadTokens = totals.CacheReadTokens,
            CacheWriteTokens = totals.CacheWriteTokens, CacheWrite1HTokens = totals.CacheWrite1hTokens, OutputTokens = totals.OutputTokens,
            ReasoningTokens = totals.ReasoningTokens, CostUsd = totals.CostUsd is { } cost ? Money.Format(cost) : "",
            AdjustmentsUsd = Money.Format(totals.AdjustmentsUsd),
            AudioInputTokens = totals.Modalities.AudioInput, ImageInputTokens = totals.Modalities.ImageInput, VideoInputTokens = totals.Modalities.VideoInput,
            AudioCacheReadTokens = totals.Modalities.AudioCacheRead, ImageCacheReadTokens = totals.Modalities.ImageCacheRead,
            AudioCacheWriteTokens = totals.Modalities.AudioCacheWrite, AudioOutputTokens = totals.Modalities.AudioOutput, ImageOutputTokens = totals.Modalities.ImageOutput,
            Images = totals.Images, AudioSeconds = Money.Format(totals.AudioSeconds), WebSearchQueries = totals.WebSearchQueries,
        };
        foreach (var (dimension, value) in keys)
        {
            row.Keys[dimension.ToString().ToLowerInvariant()] = value;
        }

        return row;
    }
}
