using System.Globalization;
using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Utility;

namespace Tokage.Analytics.Queries;

/// <summary>
/// A WHERE clause that starts with <c>tenant_id = {tenant:String}</c>, always, with every further value
/// bound as a parameter: no tenant-scoped SQL is written any other way, so no query can leave its tenant
/// or be steered by a value's text.
/// </summary>
public sealed class TenantScopedQuery
{
    private readonly List<string> predicates = ["tenant_id = {tenant:String}"];
    private int next;

    public TenantScopedQuery(string tenantId)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        Parameters.AddParameter("tenant", tenantId);
    }

    public ClickHouseParameterCollection Parameters { get; } = new();

    public string WhereClause => "WHERE " + string.Join(" AND ", predicates);

    /// <summary>Adds a parameter and returns its placeholder, e.g. <c>{p0:String}</c>.</summary>
    public string Bind(object value, string clickHouseType)
    {
        var name = "p" + (next++).ToString(CultureInfo.InvariantCulture);
        Parameters.AddParameter(name, value);
        return $"{{{name}:{clickHouseType}}}";
    }

    /// <summary>ANDs a predicate written with placeholders from <see cref="Bind"/>, never with values.</summary>
    public TenantScopedQuery And(string predicate)
    {
        predicates.Add(predicate);
        return this;
    }
}
