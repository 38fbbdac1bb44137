using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Tokage.Bench;

/// <summary>One figure, and the baseline it is read against (a ratio, since these machines are shared and noisy).</summary>
internal sealed record Measurement(string What, double Value, string Unit, string? Baseline = null, double? BaselineValue = null)
{
    /// <summary>Value ÷ baseline: above 1 means more than the baseline (faster for rates, slower for latencies).</summary>
    public double? Ratio => BaselineValue is > 0 ? Value / BaselineValue : null;
}

/// <summary>Collects a scenario's figures and prints them as a Markdown table and as JSON.</summary>
internal sealed class BenchReport(string scenario)
{
    private readonly List<Measurement> measurements = [];
    private readonly Dictionary<string, string> parameters = [];

    public void Parameter(string name, object value) => parameters[name] = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";

    public void Add(Measurement measurement)
    {
        measurements.Add(measurement);
        Console.WriteLine($"[bench] {measurement.What}: {Format(measurement.Value)} {measurement.Unit}"
            + (measurement.Baseline is null ? "" : $" (baseline {measurement.Baseline}: {Format(measurement.BaselineValue ?? 0)}, ratio {Format(measurement.Ratio ?? 0)})"));
    }

    public void PrintMarkdown(TextWriter writer)
    {
        writer.WriteLine();
        writer.WriteLine($"### {scenario} — {Machine()}");
        writer.WriteLine();
        writer.WriteLine("| what | value | baseline (same run) | ratio |");
        writer.WriteLine("|---|---:|---|---:|");
        foreach (var m in measurements)
        {
            var baseline = m.Baseline is null ? "" : $"{m.Baseline}: {Format(m.BaselineValue ?? 0)} {m.Unit}";
            var ratio = m.Ratio is { } r ? Format(r) : "";
            writer.WriteLine($"| {m.What} | {Format(m.Value)} {m.Unit} | {baseline} | {ratio} |");
        }

        writer.WriteLine();
        writer.WriteLine("Parameters: " + string.Join(", ", parameters.Select(p => $"{p.Key}={p.Value}")));
    }

    public async Task WriteJsonAsync(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var document = new
        {
            scenario,
            at = DateTimeOffset.UtcNow,
            machine = Machine(),
            parameters,
            measurements = measurements.Select(m => new { what = m.What, value = m.Value, unit = m.Unit, baseline = m.Baseline, baseline_value = m.BaselineValue, ratio = m.Ratio }),
        };
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"[bench] JSON written to {path}");
    }

    private static string Machine() =>
        $"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB, {RuntimeInformation.OSDescription}, .NET {Environment.Version}";

    private static string Format(double value) => value switch
    {
        >= 1000 => value.ToString("N0", CultureInfo.InvariantCulture),
        >= 10 => value.ToString("0.0", CultureInfo.InvariantCulture),
        _ => value.ToString("0.00", CultureInfo.InvariantCulture),
    };
}

/// <summary>Progress on long steps: what is running, and how long it took.</summary>
internal static class Progress
{
    public static async Task<T> StepAsync<T>(string what, Func<Task<T>> step)
    {
        Console.WriteLine($"[bench] {what}…");
        var started = Stopwatch.GetTimestamp();
        // A line every 15 s on long steps, so a long run is visibly alive.
        using var ticker = new Timer(_ => Console.WriteLine($"[bench] {what}: {Stopwatch.GetElapsedTime(started).TotalSeconds:0} s so far…"), null, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(15));
        var result = await step();
        Console.WriteLine($"[bench] {what}: done in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
        return result;
    }

    public static Task StepAsync(string what, Func<Task> step) => StepAsync(what, async () =>
    {
        await step();
        return 0;
    });
}

internal static class Sampling
{
    public static async Task<double> MillisecondsAsync(Func<Task> action)
    {
        var started = Stopwatch.GetTimestamp();
        await action();
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    /// <summary>
    /// <paramref name="warmup"/> untimed runs of each, then <paramref name="count"/> timed runs of each, alternating,
    /// so drift in the machine's load falls on both alike; in milliseconds.
    /// </summary>
    public static async Task<(List<double> First, List<double> Second)> PairAsync(int count, int warmup, Func<Task> first, Func<Task> second)
    {
        for (var i = 0; i < warmup; i++)
        {
            await first();
            await second();
        }

        var (a, b) = (new List<double>(count), new List<double>(count));
        for (var i = 0; i < count; i++)
        {
            a.Add(await MillisecondsAsync(first));
            b.Add(await MillisecondsAsync(second));
        }

        return (a, b);
    }
}

internal static class Statistics
{
    public static double Percentile(IReadOnlyList<double> samples, double percentile)
    {
        var sorted = samples.Order().ToArray();
        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    public static double Median(IReadOnlyList<double> samples) => Percentile(samples, 50);
}

internal static class Load
{
    /// <summary>
    /// Starts <paramref name="call"/>(0 … <paramref name="count"/> − 1) at a steady <paramref name="rate"/> per second, open
    /// loop (each starts on time however long the earlier ones take), and waits for them all.
    /// </summary>
    public static async Task SteadyAsync(int count, int rate, Func<int, Task> call, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromSeconds(1.0 / rate);
        var started = Stopwatch.GetTimestamp();
        var inFlight = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            var wait = interval * i - Stopwatch.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            var index = i;
            inFlight.Add(Task.Run(() => call(index), cancellationToken));
        }

        await Task.WhenAll(inFlight);
    }

    /// <summary>
    /// <paramref name="warmup"/> untimed batches (JIT, connections, first-use checks), then the rest,
    /// <paramref name="concurrency"/> at a time; items per second of the timed ones (<paramref name="batchSize"/> per batch).
    /// </summary>
    public static async Task<double> ThroughputAsync(int batches, int warmup, int concurrency, int batchSize, Func<int, Task> batch)
    {
        for (var w = 0; w < warmup; w++)
        {
            await batch(w);
        }

        var next = warmup - 1;
        var timed = batches - warmup;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int b;
            while ((b = Interlocked.Increment(ref next)) < batches)
            {
                await batch(b);
            }
        }));
        return timed * (double)batchSize / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }
}
