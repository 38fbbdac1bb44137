using System.CommandLine;

namespace Tokage.Bench;

/// <summary>Every scenario in turn, each with its own defaults (or <c>--quick</c>); each prints its table and writes its JSON.</summary>
internal static class AllBenchmarks
{
    public static Command CreateCommand(IReadOnlyList<Command> scenarios)
    {
        var quick = new Option<bool>("--quick") { Description = "Every scenario's smoke run: about two minutes in all, for CI. Asserts nothing about speed." };
        var command = new Command("all", $"Every scenario in turn: {string.Join(", ", scenarios.Select(s => s.Name))}.") { quick };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string[] arguments = parse.GetValue(quick) ? ["--quick"] : [];
            foreach (var scenario in scenarios)
            {
                Console.WriteLine($"[bench] === {scenario.Name} {string.Join(' ', arguments)} ===");
                var exitCode = await scenario.Parse(arguments).InvokeAsync(cancellationToken: cancellationToken);
                if (exitCode != 0)
                {
                    Console.Error.WriteLine($"[bench] {scenario.Name} failed (exit code {exitCode}); the remaining scenarios are not run.");
                    return exitCode;
                }
            }

            return 0;
        });
        return command;
    }
}
