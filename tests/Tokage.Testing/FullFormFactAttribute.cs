namespace Tokage.Testing;

/// <summary>
/// A test of a long suite's full form: it runs when <c>TOKAGE_BROWSER=full</c> (or the variable named) is set, and is
/// reported skipped otherwise, so CI runs the suite's quick form and says which tests it left to the full one.
/// </summary>
public sealed class FullFormFactAttribute : FactAttribute
{
    public FullFormFactAttribute(string variable = "TOKAGE_BROWSER")
    {
        if (!string.Equals(Environment.GetEnvironmentVariable(variable), "full", StringComparison.OrdinalIgnoreCase))
        {
            Skip = $"Full form only ({variable}=full); CI runs the quick form.";
        }
    }
}
