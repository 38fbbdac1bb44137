using System.Net;
using Tokage.Demo;

namespace Tokage.Console.Api;

/// <summary>
/// Loads <see cref="DemoUsage"/> into the signed-in member's tenant through the public APIs, as the member: the events
/// through the ingest API (priced and stored like any usage), the demo budget through the control plane.
/// </summary>
public sealed class DemoSeeder(TokageApi api, TimeProvider time)
{
    /// <summary>Sends the events (reporting progress as events sent of the total) and creates the demo budget; returns how many were accepted.</summary>
    public async Task<int> SeedAsync(IProgress<(int Sent, int Total)>? progress, CancellationToken cancellationToken)
    {
        var events = DemoUsage.Generate(time.GetUtcNow()).ToList();
        var (accepted, sent) = (0, 0);
        foreach (var batch in events.Chunk(DemoUsage.BatchSize))
        {
            accepted += await SendAsync(batch, cancellationToken);
            sent += batch.Length;
            progress?.Report((sent, events.Count));
        }

        var session = await api.SessionAsync();
        try
        {
            await api.PostAsync(TokageService.ControlPlane, $"/v1/tenants/{session.TenantId}/budgets", DemoUsage.Budget, cancellationToken);
        }
        catch (ApiProblem problem) when (problem.Status == HttpStatusCode.Conflict)
        {
            // Seeded before: the budget is there.
        }

        return accepted;
    }

    private async Task<int> SendAsync(Dictionary<string, object?>[] batch, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                var answer = await api.PostAsync(TokageService.Ingestion, "/v1/events/batch", new { events = batch }, cancellationToken);
                return (int?)answer["accepted"] ?? 0;
            }
            catch (ApiProblem problem) when (problem.Status is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
            {
                // The tenant's rate limit or a busy log: the same events again shortly (their ids keep it exact).
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }
}
