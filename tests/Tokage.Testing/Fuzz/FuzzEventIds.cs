namespace Tokage.Testing.Fuzz;

/// <summary>Event ids unique within a corpus, by endpoint, so an event that got stored names the case that let it in.</summary>
internal sealed class FuzzEventIds(string prefix)
{
    private int next;

    public string Next() => $"{prefix}-{next++:D6}";
}
