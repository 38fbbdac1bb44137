namespace Tokage.Testing.Fuzz;

/// <summary>
/// How big a corpus is and what it is built from. The same settings give the same inputs byte for byte, except event
/// timestamps, which are relative to <see cref="Now"/> because the service judges them against its clock.
/// </summary>
/// <param name="Variant">"quick" or "full", for the report.</param>
/// <param name="Seed">The seed of every random choice.</param>
/// <param name="RandomCasesPerKind">How many inputs each random kind (truncations, flips, garbage, forged keys) contributes per endpoint.</param>
/// <param name="Now">What valid timestamps are near.</param>
public sealed record FuzzSettings(string Variant, int Seed, int RandomCasesPerKind, DateTimeOffset Now)
{
    /// <summary><c>TOKAGE_FUZZ=full</c> selects the full corpus; anything else, or nothing, the quick one that CI runs.</summary>
    public const string EnvironmentVariable = "TOKAGE_FUZZ";

    public const int DefaultSeed = 20261120;

    public bool IsFull => Variant == "full";

    /// <summary>A few hundred inputs per endpoint.</summary>
    public static FuzzSettings Quick(DateTimeOffset now, int seed = DefaultSeed) => new("quick", seed, 40, now);

    /// <summary>Thousands of inputs per endpoint.</summary>
    public static FuzzSettings Full(DateTimeOffset now, int seed = DefaultSeed) => new("full", seed, 1_000, now);

    public static FuzzSettings FromEnvironment(DateTimeOffset now) =>
        string.Equals(Environment.GetEnvironmentVariable(EnvironmentVariable), "full", StringComparison.OrdinalIgnoreCase)
            ? Full(now)
            : Quick(now);
}
