using System.Net;
using System.Text;

namespace Tokage.Fuzz.Tests;

/// <summary>
/// Every public ingestion endpoint against the bad-input corpus (<see cref="FuzzCorpus"/>): each input refused with
/// the status the README names and a message saying what is wrong, never a server error; the service still up after
/// each endpoint's run and still taking a valid event; and nothing of the corpus in the durable log.
/// </summary>
public sealed class IngestionFuzzTests(FuzzStack stack, ITestOutputHelper output) : IClassFixture<FuzzStack>
{
    public static TheoryData<string> Endpoints => [.. FuzzEndpoints.All];

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task EveryBadInputIsRefusedWithAClearMessageAndNothingIsStored(string endpoint)
    {
        var before = await stack.LoggedEventIdsAsync();
        // Timestamps are relative to the moment of sending ("10 minutes ahead" must still be ahead when it arrives).
        var cases = FuzzCorpus.For(endpoint, stack.Settings with { Now = DateTimeOffset.UtcNow }).ToList();
        Assert.NotEmpty(cases);

        EndpointReport report;
        using (var runner = stack.Runner())
        {
            report = Assert.Single(await runner.RunAsync(cases));
        }

        var path = stack.Record(report);
        output.WriteLine(FuzzReportMarkdown.Render([report], stack.Settings, $"(full report: {path})"));
        if (report.Failures.Count > 0)
        {
            // The exceptions behind server errors, as the service logged them.
            output.WriteLine("Errors ingestion logged:\n" + string.Join("\n", LoggedErrors(stack.Ingestion.Output).TakeLast(30)));
        }

        // Nothing the corpus sent is in the log.
        var leaked = (await stack.LoggedEventIdsAsync()).Except(before).ToList();
        Assert.True(leaked.Count == 0, $"{endpoint}: {leaked.Count} events stored: {string.Join(", ", leaked.Take(20))}");

        // The service is up, and still takes a valid event (the only one the log then holds from this run).
        Assert.False(stack.Ingestion.HasExited, $"{endpoint}: ingestion exited:\n{stack.Ingestion.Output}");
        using var http = stack.Client();
        using (var alive = await http.GetAsync("/alive"))
        {
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        }

        var probe = $"fz-probe-{FuzzEndpoints.All.ToList().IndexOf(endpoint)}";
        var valid = NativeJsonCorpus.Serialize(NativeJsonCorpus.ValidEvent(probe, DateTimeOffset.UtcNow));
        using (var accepted = await http.PostAsync("/v1/events", new ByteArrayContent(valid) { Headers = { { "Content-Type", "application/json" } } }))
        {
            Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, $"{endpoint}: a valid event afterwards got {(int)accepted.StatusCode} {await accepted.Content.ReadAsStringAsync()}");
        }

        Assert.Equal(new[] { probe }, (await stack.LoggedEventIdsAsync()).Except(before).Order());

        // Every input refused as it must be: no 5xx, no empty message, nothing taken.
        Assert.True(report.ServerErrors == 0, $"{endpoint}: {report.ServerErrors} server errors:\n{report.DescribeFailures()}");
        Assert.True(report.Unclear == 0, $"{endpoint}: {report.Unclear} answers without a clear message:\n{report.DescribeFailures()}");
        Assert.True(report.Failures.Count == 0, $"{endpoint}: {report.Failures.Count} inputs not refused as they must be:\n{report.DescribeFailures()}");
    }

    /// <summary>The service's <c>fail:</c> log entries (each with the lines of its exception), latest last.</summary>
    private static IEnumerable<string> LoggedErrors(string log)
    {
        var lines = log.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].TrimStart().StartsWith("fail:", StringComparison.Ordinal))
            {
                yield return string.Join("\n", lines.Skip(i).Take(12));
            }
        }
    }
}

/// <summary>The corpus itself, without a stack: the same seed gives the same inputs, another seed other ones.</summary>
public sealed class FuzzCorpusTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    // Built once: the corpus is a few thousand cases, some of them tens of megabytes.
    private static readonly Lazy<List<Fingerprint>> Quick = new(() => Fingerprints(FuzzCorpus.All(FuzzSettings.Quick(Now))));

    private sealed record Fingerprint(string Endpoint, string Kind, string Line);

    [Fact]
    public void TheSameSeedGivesTheSameInputs() =>
        Assert.Equal(Quick.Value, Fingerprints(FuzzCorpus.All(FuzzSettings.Quick(Now))));

    [Fact]
    public void AnotherSeedGivesOtherRandomInputs()
    {
        var other = Fingerprints(FuzzCorpus.For(FuzzEndpoints.Event, FuzzSettings.Quick(Now, seed: FuzzSettings.DefaultSeed + 1)));
        var first = Quick.Value.Where(f => f.Endpoint == FuzzEndpoints.Event).ToList();
        Assert.NotEqual(first.Where(f => f.Kind == "garbage"), other.Where(f => f.Kind == "garbage"));
        Assert.Equal(first.Where(f => f.Kind == "wrong type"), other.Where(f => f.Kind == "wrong type"));
    }

    [Fact]
    public void EveryEndpointHasEveryKindOfBadKey()
    {
        string[] kinds = ["missing key", "malformed Authorization", "forged key", "revoked key", "key without the ingest scope"];
        foreach (var endpoint in FuzzEndpoints.All)
        {
            var present = Quick.Value.Where(f => f.Endpoint == endpoint).Select(f => f.Kind).ToHashSet();
            Assert.All(kinds, kind => Assert.Contains(kind, present));
        }
    }

    /// <summary>Every case as one line: its endpoint, kind, name and a hash of exactly what it sends.</summary>
    private static List<Fingerprint> Fingerprints(IEnumerable<FuzzCase> cases) =>
        cases.Select(c => new Fingerprint(c.Endpoint, c.Kind, $"{c} {Hash(c.Input)}")).ToList();

    private static string Hash(FuzzInput input)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        void Add(string text) => sha.AppendData(Encoding.UTF8.GetBytes(text + "\n"));
        void AddHeaders(IEnumerable<FuzzHeader> headers)
        {
            foreach (var header in headers)
            {
                Add($"{header.Name}: {header.Value}");
            }
        }

        switch (input)
        {
            case HttpFuzzInput http:
                Add(http.Path);
                AddHeaders(http.Headers);
                sha.AppendData(http.Body);
                break;
            case GrpcFuzzInput grpc:
                Add($"{grpc.Service}/{grpc.Method} {grpc.Type}");
                AddHeaders(grpc.Metadata);
                foreach (var message in grpc.Messages)
                {
                    Add(message.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    sha.AppendData(message);
                }

                break;
            case RawGrpcFuzzInput raw:
                Add(raw.Path);
                AddHeaders(raw.Headers);
                sha.AppendData(raw.Frames);
                break;
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
