namespace Tokage.Demo;

/// <summary>
/// Demo usage: 30 days of calls from four applications, four teams, 24 users and four models, weekday-heavy with a
/// daily rhythm (about 200 calls a day), and a monthly budget for one team low enough to alert.
/// Deterministic: the same hour sends the same events with the same ids, so a second run stores nothing twice.
/// </summary>
public static class DemoUsage
{
    public const int Days = 30;

    /// <summary>Events per batch request (the ingest API's largest batch).</summary>
    public const int BatchSize = 1_000;

    /// <summary>The budget the demo creates (control plane body), for team <c>eng</c>.</summary>
    public static readonly object Budget = new Dictionary<string, object?>
    {
        ["name"] = "demo-monthly",
        ["period"] = "monthly",
        ["amount_usd"] = "5",
        ["thresholds"] = new[] { 50, 80, 100 },
        ["scope"] = new Dictionary<string, string> { ["kind"] = "team", ["value"] = "eng" },
    };

    private static readonly (string Application, string Project, string Team, string[] Models)[] Apps =
    [
        ("support-bot", "helpdesk", "cx", ["anthropic/claude-sonnet-4-5", "openai/gpt-4o-mini"]),
        ("code-review", "platform", "eng", ["anthropic/claude-sonnet-4-5", "openai/gpt-4o"]),
        ("search-summaries", "search", "growth", ["openai/gpt-4o-mini"]),
        ("sales-assistant", "crm", "sales", ["openai/gpt-4o", "anthropic/claude-3-5-haiku-20241022"]),
    ];

    private static readonly string[] Customers = ["acme", "globex", "initech", "umbrella"];

    /// <summary>The demo's events for the <see cref="Days"/> days before <paramref name="now"/>'s hour, oldest first.</summary>
    public static IEnumerable<Dictionary<string, object?>> Generate(DateTimeOffset now)
    {
        var end = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        var start = end.AddDays(-Days);
        for (var hour = start; hour < end; hour = hour.AddHours(1))
        {
            // Each hour from its own seed: a later run sends the same events (the same ids) for the hours both cover.
            var random = new Random((int)(hour.ToUnixTimeSeconds() / 3600));
            var sequence = 0;
            var weekday = hour.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday);
            var daytime = hour.Hour is >= 8 and <= 19;
            var calls = (int)Math.Round((weekday ? 12 : 4) * (daytime ? 1.6 : 0.3) * (0.6 + random.NextDouble() * 0.8));
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
