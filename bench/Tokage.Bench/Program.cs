using System.CommandLine;
using Tokage.Bench;

var root = new RootCommand("Tokage benchmarks. Every figure stands beside a baseline measured in the same run on the same machine.")
{
    AnalyticsBenchmark.CreateCommand(),
    AuthBenchmark.CreateCommand(),
    IngestBenchmark.CreateCommand(),
    ProcessorBenchmark.CreateCommand(),
    OtlpBenchmark.CreateCommand(),
};
var exitCode = await root.Parse(args).InvokeAsync();

// chDB ran in this process (the baselines); its static destructors can crash a normal exit.
Console.Out.Flush();
Tokage.ClickHouseLocal.Native.LibC.Exit(exitCode);
return exitCode;
