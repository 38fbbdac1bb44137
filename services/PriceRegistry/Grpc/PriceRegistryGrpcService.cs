using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Tokage.Integrations;
using Tokage.Contracts.V1;
using Tokage.Pricing;
using Tokage.PriceRegistry.Prices;

namespace Tokage.PriceRegistry.Grpc;

/// <summary>
/// <c>tokage.v1.PriceRegistryService</c> for the services that price events: the whole book, then every version added
/// after a cursor. Served from the in-memory book, which <see cref="PriceFeed"/> keeps a gap-free prefix of the table
/// (so paging by id misses nothing) and which catches up on PostgreSQL notifications from every replica.
/// </summary>
internal sealed class PriceRegistryGrpcService(
    PriceBook book, PriceFeed feed, PriceRegistryStartup startup, IHostApplicationLifetime lifetime, IOptions<PriceRegistryOptions> options)
    : PriceRegistryService.PriceRegistryServiceBase
{
    // Tenants' negotiated prices travel on the feed: only a service holding the feed token reads it.
    private readonly AdminToken feedToken = new(options.Value.FeedToken, "The price registry's gRPC feed");

    public override async Task<PriceSnapshot> GetSnapshot(GetPriceSnapshotRequest request, ServerCallContext context)
    {
        RequireFeedToken(context);
        await startup.Done.WaitAsync(context.CancellationToken);

        // One read of the book: latest_id must be the highest id of these versions, not of a newer book.
        var versions = book.Versions;
        var snapshot = new PriceSnapshot { LatestId = versions.Count == 0 ? 0 : versions.Max(v => v.Id) };
        snapshot.Versions.AddRange(versions.OrderBy(v => v.Id).Select(Message));
        return snapshot;
    }

    public override async Task WatchChanges(WatchPriceChangesRequest request, IServerStreamWriter<PriceVersionMessage> responseStream, ServerCallContext context)
    {
        RequireFeedToken(context);

        // The stream ends (cleanly) when the server stops; the client reconnects with the last id it saw.
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        try
        {
            await startup.Done.WaitAsync(ended.Token);
            var cursor = request.AfterId;
            while (true)
            {
                var next = feed.Changed;
                foreach (var version in book.Versions.Where(v => v.Id > cursor).OrderBy(v => v.Id))
                {
                    await responseStream.WriteAsync(Message(version), ended.Token);
                    cursor = version.Id;
                }

                await next.WaitAsync(ended.Token);
            }
        }
        catch (OperationCanceledException) when (ended.IsCancellationRequested)
        {
        }
    }

    private void RequireFeedToken(ServerCallContext context)
    {
        if (!feedToken.IsConfigured)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"{feedToken.Api} is closed: no feed token is configured (Tokage__PriceRegistry__FeedToken)."));
        }

        if (!feedToken.Accepts(context.RequestHeaders.GetValue("authorization")))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"{feedToken.Api} needs 'authorization: Bearer <feed token>'."));
        }
    }

    private static PriceVersionMessage Message(PriceVersion version)
    {
        var message = new PriceVersionMessage
        {
            Id = version.Id,
            TenantId = version.TenantId,
            ModelKey = version.ModelKey,
            Provider = version.Provider,
            EffectiveFrom = Timestamp.FromDateTimeOffset(version.EffectiveFrom),
            Source = version.Source,
        };
        foreach (var (name, price) in version.Prices)
        {
            message.Prices[name] = price;
        }

        return message;
    }
}
