namespace Tokage.Pricing;

/// <summary>
/// One effective-dated price of one model: from <see cref="EffectiveFrom"/> on, until the model's next version.
/// <see cref="TenantId"/> is empty for the public price and names the tenant for an override (a negotiated price,
/// a custom or fine-tuned model). Versions are appended, never rewritten; a correction is a new version at the
/// corrected one's instant (<see cref="Corrects"/> names it), and being the later, it is the one in effect there.
/// </summary>
public sealed record PriceVersion(
    long Id,
    string ModelKey,
    string Provider,
    DateTimeOffset EffectiveFrom,
    IReadOnlyDictionary<string, string> Prices,
    string Source,
    string TenantId = "",
    long? Corrects = null)
{
    public bool IsOverride => TenantId.Length > 0;
}
