using System.CommandLine;
using Tokage.Bench;

// In the order `all` runs them: the front door first, then the pipeline behind it, then reads.
Command[] scenarios =
[
    IngestBenchmark.CreateCommand(),
    OtlpBenchmark.CreateCommand(),
    ProcessorBenchmark.CreateCommand(),
    QueryBenchmark.CreateCommand(),
    AnalyticsBenchmark.CreateCommand(),
    AuthBenchmark.CreateCommand(),
    BillingBenchmark.CreateCommand(),
    AuditBenchmark.CreateCommand(),
    PricingBenchmark.CreateCommand(),
    SdkBenchmark.CreateCommand(),
];
var root = new RootCommand("Tokage benchmarks. Every figure stands beside a baseline measured in the same run on the same machine.");
foreach (var scenario in scenarios)
{
    root.Subcommands.Add(scenario);
}

root.Subcommands.Add(ProcessorBenchmark.CreateEndToEndCommand());
root.Subcommands.Add(AllBenchmarks.CreateCommand(scenarios));
var exitCode = await root.Parse(args).InvokeAsync();

// chDB ran in this process (the baselines); its static destructors can crash a normal exit.
Console.Out.Flush();
Tokage.ClickHouseLocal.Native.LibC.Exit(exitCode);
return exitCode;
