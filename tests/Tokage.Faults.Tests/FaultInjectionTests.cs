using Xunit.Abstractions;

namespace Tokage.Faults.Tests;

/// <summary>
/// The fault-injection suite: every scenario ends with a reconciliation in which nothing acknowledged is lost,
/// nothing is stored twice or unasked, the rollups count exactly the stored events and every cost equals the
/// list-price computation. Quick by default (CI); <c>TOKAGE_FAULTS=full</c> runs the sizes (30 s outages,
/// five kills). The table of every scenario run goes to <c>.tokage/faults/report.md</c>.
/// </summary>
public sealed class FaultInjectionTests(FaultInjectionTests.Suite suite, ITestOutputHelper output) : IClassFixture<FaultInjectionTests.Suite>
{
    public sealed class Suite : IAsyncLifetime
    {
        private readonly List<FaultReport> reports = [];

        // Processor logs at Information: the ClickHouse scenario counts its backoff lines.
        public ProcessingStack Stack { get; } = new();

        public FaultIntensity Intensity { get; } = FaultIntensity.FromEnvironment();

        public FaultScenarios Scenarios { get; private set; } = null!;

        public Task InitializeAsync() => InitializeStackAsync();

        public void Record(FaultReport report)
        {
            lock (reports)
            {
                reports.Add(report);
            }
        }

        public async Task DisposeAsync()
        {
            var path = Path.Combine(TestAssets.Path("RepositoryRoot"), ".tokage", "faults", "report.md");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, FaultScenarios.Markdown(reports, Intensity));
            await Stack.DisposeAsync();
        }

        private async Task InitializeStackAsync()
        {
            await Stack.InitializeAsync();
            Scenarios = new FaultScenarios(Stack, Intensity);
        }
    }

    [Fact]
    public Task TheProcessorKilledMidStreamLosesAndRepeatsNothing() => RunAsync(s => s.ProcessorKilledAsync());

    [Fact]
    public Task ClickHouseDownUnderLoadLosesNothingAndTheBacklogFlowsBack() => RunAsync(s => s.ClickHouseDownAsync());

    [Fact]
    public Task RedisRestartedUnderLoadKeepsTheLogAndAdmitsNoUnknownKey() => RunAsync(s => s.RedisRestartedAsync());

    [Fact]
    public Task ClientsRetryingWholeBatchesStoreEachEventOnce() => RunAsync(s => s.ClientsRetryAsync());

    [Fact]
    public Task IngestionKilledWithRequestsInFlightLosesNoAcknowledgedEvent() => RunAsync(s => s.IngestionKilledAsync());

    [Fact]
    public Task ClaimsWipedAndTheLogReplayedLeaveTheRollupsUnchanged() => RunAsync(s => s.ClaimsWipedAndLogReplayedAsync());

    [Fact]
    public Task OnKafkaTwoProcessorsInOneGroupWithARebalanceMidStreamStoreEveryEventOnce() => RunAsync(s => s.ProcessorsRebalancedOnKafkaAsync());

    [Fact]
    public Task OnKafkaClickHouseDownPastThePollIntervalNeitherWedgesNorEvictsTheConsumer() => RunAsync(s => s.ClickHouseDownPastThePollIntervalOnKafkaAsync());

    private async Task RunAsync(Func<FaultScenarios, Task<FaultReport>> scenario)
    {
        var report = await scenario(suite.Scenarios);
        suite.Record(report);
        output.WriteLine(FaultReport.MarkdownHeader);
        output.WriteLine(report.MarkdownRow);

        Assert.Empty(report.Violations);
        Assert.True(report.Acknowledged > 0, $"nothing was acknowledged: {report.Notes}");
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.Duplicates);
        Assert.Equal(0, report.Unexpected);
        Assert.True(report.RollupsExact, $"the rollups do not count the stored events exactly: {report.MarkdownRow}");
        Assert.True(report.CostsExact, $"a cost differs from the list-price computation: {report.MarkdownRow}");
        Assert.True(report.Stored >= report.Acknowledged);
    }
}
