namespace Tokage.Client;

/// <summary>Who a call is for, as the events of the calls made inside a <see cref="TokageScope.Begin"/> carry it.</summary>
public sealed record TokageAttribution(
    string? Customer = null, string? User = null, string? Team = null, string? Project = null, string? Application = null, string? ReservationId = null)
{
    /// <summary>This attribution with <paramref name="inner"/>'s fields where it has them.</summary>
    public TokageAttribution With(TokageAttribution inner) => new(
        inner.Customer ?? Customer, inner.User ?? User, inner.Team ?? Team, inner.Project ?? Project,
        inner.Application ?? Application, inner.ReservationId ?? ReservationId);
}

/// <summary>
/// The ambient attribution (AsyncLocal): <c>using (TokageScope.Begin(customer: "acme", user: "u-1"))</c> and every
/// metered call made inside — across awaits, not into other requests — carries it. Scopes nest; the inner one's fields win.
/// </summary>
public static class TokageScope
{
    private static readonly AsyncLocal<TokageAttribution?> current = new();

    /// <summary>The attribution in effect here, or null.</summary>
    public static TokageAttribution? Current => current.Value;

    /// <summary>Attributes the calls made until the returned scope is disposed (null fields: the outer scope's).</summary>
    public static IDisposable Begin(
        string? customer = null, string? user = null, string? team = null, string? project = null, string? application = null, string? reservationId = null)
    {
        var outer = current.Value;
        var inner = new TokageAttribution(customer, user, team, project, application, reservationId);
        current.Value = outer is null ? inner : outer.With(inner);
        return new Restore(outer);
    }

    private sealed class Restore(TokageAttribution? outer) : IDisposable
    {
        public void Dispose() => current.Value = outer;
    }
}
