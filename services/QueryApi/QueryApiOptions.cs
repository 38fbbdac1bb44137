namespace Tokage.QueryApi;

/// <summary>Bound from <c>Tokage:QueryApi</c>.</summary>
public sealed class QueryApiOptions
{
    public const string SectionName = "Tokage:QueryApi";

    /// <summary>Lets an operator read any tenant's usage (naming it with <c>?tenant=</c>); unset, only tenant keys are accepted.</summary>
    public string AdminToken { get; set; } = "";
}
