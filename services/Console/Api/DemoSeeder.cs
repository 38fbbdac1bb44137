using System.Net;

namespace Tokage.Console.Api;

/// <summary>
/// Demo data for an empty tenant: 30 days of usage from several applications, teams, users and models, sent through the
/// public ingest API as the signed-in member (so it is priced and stored like any usage), and a budget low enough to
/// have alerted. Deterministic: the same seed sends the same events, and their ids make a second run a no-op.
/// </summary>
public sealed class DemoSeeder(TokageApi api, TimeProvider time)
{
    public const int Days = 30;
    private const int BatchSize = 1_000;

    private static readonly (string Application, string Project, string Team, string[] Models)[] Apps =
    [
        ("support-bot", "helpdesk", "cx", ["anthropic/claude-sonnet-4-5", "openai/gpt-4o-mini"]),
        ("code-review", "platform", "eng", ["anthropic/claude-sonnet-4-5", "openai/gpt-4o"]),
        ("search-summaries", "search", "growth", ["openai/gpt-4o-mini"]),
        ("sales-assistant", "crm", "sales", ["openai/gpt-4o", "anthropic/claude-3-5-haiku-20241022"]),
    ];

    private static readonly string[] Customers = ["acme", "globex", "initech", "umbrella"];

    /// <summary>Sends the events (reporting progress as events sent of the total) and creates the demo budget; returns how many were accepted.</summary>
    public async Task<int> SeedAsync(IProgress<(int Sent, int Total)>? progress, CancellationToken cancellationToken)
    {
        var events = Generate(time.GetUtcNow()).ToList();
        var accepted = 0;
        for (var start = 0; start < events.Count; start += BatchSize)
        {
            var batch = events.Skip(start).Take(BatchSize).ToList();
            accepted += await SendAsync(batch, cancellationToken);
            progress?.Report((Math.Min(start + BatchSize, events.Count), events.Count));
        }

        var session = await api.SessionAsync();
        try
        {
            await api.PostAsync(TokageService.ControlPlane, $"/v1/tenants/{session.TenantId}/budgets", new
            {
                name = "demo-monthly",
                period = "monthly",
                amount_usd = "25",
                thresholds = new[] { 50, 80, 100 },
                scope = new { kind = "team", value = "eng" },
            }, cancellationToken);
        }
        catch (ApiProblem problem) when (problem.Status == HttpStatusCode.Conflict)
        {
            // Seeded before: the budget is there.
        }

        return accepted;
    }

    private async Task<int> SendAsync(List<Dictionary<string, object?>> batch, CancellationToken cancellationToken)
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

    /// <summary>Weekday-heavy traffic with a daily rhythm and slow growth, about 200 calls a day.</summary>
    internal static IEnumerable<Dictionary<string, object?>> Generate(DateTimeOffset now)
    {
        var random = new Random(20261203);
        var end = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        var start = end.AddDays(-Days);
        var sequence = 0;
        for (var hour = start; hour < end; hour = hour.AddHours(1))
        {
            var weekday = hour.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday);
            var daytime = hour.Hour is >= 8 and <= 19;
            var growth = 1 + (hour - start).TotalDays / Days;
            var calls = (int)Math.Round((weekday ? 10 : 3) * (daytime ? 1.6 : 0.3) * growth * (0.6 + random.NextDouble() * 0.8));
            for (var call = 0; call < calls; call++)
            {
                var app = Apps[random.Next(Apps.Length)];
                var (provider, model) = Split(app.Models[random.Next(app.Models.Length)]);
                var input = random.Next(400, 12_000);
                var cached = provider == "anthropic" && random.NextDouble() < 0.5 ? random.Next(0, input / 2) : 0;
                yield return new Dictionary<string, object?>
                {
                    ["event_id"] = $"demo-{hour:yyyyMMddHH}-{sequence++}",
                    ["timestamp"] = hour.AddSeconds(random.Next(0, 3600)).ToString("O"),
                    ["provider"] = provider,
                    ["model"] = model,
                    ["usage"] = new Dictionary<string, long>
                    {
                        ["input_tokens"] = input,
                        ["cache_read_tokens"] = cached,
                        ["output_tokens"] = random.Next(50, 1_500),
                    },
                    ["application"] = app.Application,
                    ["project"] = app.Project,
                    ["team"] = app.Team,
                    ["user_id"] = $"u-{random.Next(1, 25)}",
                    ["customer"] = Customers[random.Next(Customers.Length)],
                    ["environment"] = "prod",
                };
            }
        }
    }

    private static (string Provider, string Model) Split(string qualified)
    {
        var slash = qualified.IndexOf('/', StringComparison.Ordinal);
        return (qualified[..slash], qualified[(slash + 1)..]);
    }
}
