using Tokage.Pricing;

namespace Tokage.PriceRegistry.Prices;

/// <summary>
/// Keeps the in-memory <see cref="PriceBook"/> equal to a prefix of the table by ids: every addition is "all committed
/// versions with an id above the book's highest" read from PostgreSQL (writes commit in id order), never a version
/// handed over by a writer, so the book has no holes and the change feed can page by id. Watchers wait on
/// <see cref="Changed"/>, which completes after each catch-up that added something.
/// </summary>
public sealed class PriceFeed(PriceStore store, PriceBook book, ILogger<PriceFeed> logger)
{
    private readonly SemaphoreSlim catchUp = new(1, 1);
    private TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next change of the book. Take it before reading the book, so a change in between is not missed.</summary>
    public Task Changed => Volatile.Read(ref changed).Task;

    /// <summary>Reads what the table has beyond the book and adds it; returns how many versions were added.</summary>
    public async Task<int> CatchUpAsync(CancellationToken cancellationToken)
    {
        await catchUp.WaitAsync(cancellationToken);
        try
        {
            var added = await store.LoadAfterAsync(book.LatestId, cancellationToken);
            if (added.Count == 0)
            {
                return 0;
            }

            book.Add(added);
            Interlocked.Exchange(ref changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            logger.LogInformation("Price book: {Count} new versions, up to id {LatestId}.", added.Count, book.LatestId);
            return added.Count;
        }
        finally
        {
            catchUp.Release();
        }
    }
}
