using System.Globalization;
using System.Text;

namespace Tokage.Testing.Fuzz;

/// <summary>How the service answered one case.</summary>
public enum FuzzVerdict
{
    /// <summary>Refused as the README says, with a message naming what is wrong.</summary>
    Refused,

    /// <summary>OTLP success for bytes that decoded into an export with nothing to bill; allowed, since nothing is stored.</summary>
    NothingToBill,

    /// <summary>A 5xx, or gRPC INTERNAL, UNKNOWN, UNAVAILABLE or DATA_LOSS.</summary>
    ServerError,

    /// <summary>No answer at all: the connection failed or the call timed out.</summary>
    NoAnswer,

    /// <summary>Taken: the service accepted something it must refuse.</summary>
    Accepted,

    /// <summary>Refused, but not with the answer the README names (including 429: a rate limit only counts valid events).</summary>
    WrongStatus,

    /// <summary>Refused with an empty or unreadable message.</summary>
    Unclear,
}

/// <summary>One case's answer: the status as the report tallies it, the verdict, and what came back (shortened).</summary>
public sealed record FuzzOutcome(FuzzCase Case, string Status, FuzzVerdict Verdict, string Detail)
{
    public bool IsFailure => Verdict is not (FuzzVerdict.Refused or FuzzVerdict.NothingToBill);

    public override string ToString() => $"{Case}: {Status} ({Verdict}) {Detail}";
}

/// <summary>What one endpoint answered a corpus: inputs tried, a tally of statuses, and every case that failed.</summary>
public sealed class EndpointReport(string endpoint)
{
    private readonly List<FuzzOutcome> failures = [];

    public string Endpoint { get; } = endpoint;

    public int Inputs { get; private set; }

    public SortedDictionary<string, int> StatusTally { get; } = new(StringComparer.Ordinal);

    public SortedDictionary<string, int> KindTally { get; } = new(StringComparer.Ordinal);

    /// <summary>The first answer of each status, to show what the messages say.</summary>
    public SortedDictionary<string, FuzzOutcome> Samples { get; } = new(StringComparer.Ordinal);

    public Dictionary<FuzzVerdict, int> Verdicts { get; } = Enum.GetValues<FuzzVerdict>().ToDictionary(v => v, _ => 0);

    public int ServerErrors => Verdicts[FuzzVerdict.ServerError];

    public int Unclear => Verdicts[FuzzVerdict.Unclear];

    public IReadOnlyList<FuzzOutcome> Failures => failures;

    public void Add(FuzzOutcome outcome)
    {
        Inputs++;
        StatusTally[outcome.Status] = StatusTally.GetValueOrDefault(outcome.Status) + 1;
        KindTally[outcome.Case.Kind] = KindTally.GetValueOrDefault(outcome.Case.Kind) + 1;
        Verdicts[outcome.Verdict]++;
        Samples.TryAdd(outcome.Status, outcome);
        if (outcome.IsFailure)
        {
            failures.Add(outcome);
        }
    }

    public string Tally() => string.Join(", ", StatusTally.Select(s => $"{s.Key} ×{s.Value.ToString("N0", CultureInfo.InvariantCulture)}"));

    /// <summary>The failures grouped by kind and answer, a line per group with its count and first case, for an assertion message.</summary>
    public string DescribeFailures(int maxGroups = 40)
    {
        var groups = failures
            .GroupBy(f => (f.Case.Kind, f.Status, f.Verdict))
            .Select(g => $"  {Endpoint} [{g.Key.Kind}] {g.Key.Status} ({g.Key.Verdict}) ×{g.Count()}, e.g. '{g.First().Case.Name}': {g.First().Detail}")
            .ToList();
        if (groups.Count > maxGroups)
        {
            groups = [.. groups.Take(maxGroups), $"  … and {groups.Count - maxGroups} more groups"];
        }

        return string.Join("\n", groups);
    }
}

/// <summary>The run's reports as Markdown: one row per endpoint, then the kinds of input each was sent.</summary>
public static class FuzzReportMarkdown
{
    public static string Render(IEnumerable<EndpointReport> reports, FuzzSettings settings, string? note = null)
    {
        var list = reports.ToList();
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# Ingestion fuzz report ({settings.Variant}, seed {settings.Seed})");
        text.AppendLine();
        if (note is not null)
        {
            text.AppendLine(note);
            text.AppendLine();
        }

        text.AppendLine("| endpoint | inputs | status tally | 5xx | unclear | other failures |");
        text.AppendLine("|---|---:|---|---:|---:|---:|");
        foreach (var r in list)
        {
            var others = r.Failures.Count - r.ServerErrors - r.Unclear;
            text.AppendLine(CultureInfo.InvariantCulture, $"| {r.Endpoint} | {r.Inputs:N0} | {r.Tally()} | {r.ServerErrors} | {r.Unclear} | {others} |");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"| **all** | **{list.Sum(r => r.Inputs):N0}** | | **{list.Sum(r => r.ServerErrors)}** | **{list.Sum(r => r.Unclear)}** | **{list.Sum(r => r.Failures.Count - r.ServerErrors - r.Unclear)}** |");
        text.AppendLine();
        text.AppendLine("Inputs by kind:");
        text.AppendLine();
        text.AppendLine("| endpoint | kinds |");
        text.AppendLine("|---|---|");
        foreach (var r in list)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {r.Endpoint} | {string.Join(", ", r.KindTally.Select(k => $"{k.Key} {k.Value:N0}"))} |");
        }

        text.AppendLine();
        text.AppendLine("A sample answer per status (the first case that got it):");
        text.AppendLine();
        text.AppendLine("| endpoint | status | case | answer |");
        text.AppendLine("|---|---|---|---|");
        foreach (var r in list)
        {
            foreach (var (status, sample) in r.Samples)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"| {r.Endpoint} | {status} | [{sample.Case.Kind}] {Cell(sample.Case.Name)} | {Cell(sample.Detail)} |");
            }
        }

        var failed = list.Where(r => r.Failures.Count > 0).ToList();
        if (failed.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("Failures:");
            text.AppendLine();
            foreach (var r in failed)
            {
                text.AppendLine("```");
                text.AppendLine(r.DescribeFailures());
                text.AppendLine("```");
            }
        }

        return text.ToString();
    }

    /// <summary>Text fit for a table cell: one line, no pipes, at most 160 characters.</summary>
    private static string Cell(string text)
    {
        var line = text.ReplaceLineEndings(" ").Replace("|", "\\|", StringComparison.Ordinal);
        return line.Length > 160 ? line[..160] + "…" : line;
    }
}
