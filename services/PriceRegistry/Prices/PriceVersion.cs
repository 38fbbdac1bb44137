namespace Tokage.PriceRegistry.Prices;

/// <summary>
/// One effective-dated price of one model: from <see cref="EffectiveFrom"/> on, until the model's next version.
/// Versions are appended, never rewritten; a correction is a new version.
/// </summary>
public sealed record PriceVersion(
    long Id,
    string ModelKey,
    string Provider,
    DateTimeOffset EffectiveFrom,
    IReadOnlyDictionary<string, string> Prices,
    string Source);
