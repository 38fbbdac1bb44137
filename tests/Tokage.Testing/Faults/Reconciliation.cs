using System.Globalization;
using ClickHouse.Driver.ADO.Parameters;
using ClickHouse.Driver.Utility;

namespace Tokage.Testing.Faults;

/// <summary>
/// One scenario's outcome. <see cref="Lost"/> (acknowledged, not stored), <see cref="Duplicates"/> (raw rows or
/// rollup counts beyond one per event) and <see cref="Unexpected"/> (stored, never sent) must all be 0; the
/// rollups must count exactly the stored events and every cost must equal the independent computation.
/// </summary>
public sealed record FaultReport(
    string Scenario,
    string Fault,
    int Sent,
    int Acknowledged,
    int Stored,
    int Duplicates,
    int Lost,
    int Unexpected,
    bool RollupsExact,
    bool CostsExact,
    string Notes)
{
    /// <summary>What the scenario itself saw go wrong beyond the counts (e.g. an unknown key admitted).</summary>
    public IReadOnlyList<string> Violations { get; init; } = [];

    public bool Clean => Lost == 0 && Duplicates == 0 && Unexpected == 0 && RollupsExact && CostsExact && Acknowledged > 0 && Violations.Count == 0;

    public static string MarkdownHeader =>
        "| scenario | fault | sent | acknowledged | stored | duplicates | lost | unexpected | rollups exact | costs exact | notes |\n" +
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|---|";

    public string MarkdownRow => string.Create(CultureInfo.InvariantCulture,
        $"| {Scenario} | {Fault} | {Sent:N0} | {Acknowledged:N0} | {Stored:N0} | {Duplicates} | {Lost} | {Unexpected} | {(RollupsExact ? "yes" : "**no**")} | {(CostsExact ? "yes" : "**no**")} | {Notes}{string.Concat(Violations.Select(v => $"; **{v}**"))} |");
}

/// <summary>
/// After a scenario: waits until the processor has stored what it will, then compares the store with what the
/// clients sent and were acknowledged — raw rows without <c>FINAL</c> (a row written twice shows), every rollup,
/// and the costs against <see cref="ListPrice"/>.
/// </summary>
public static class Reconciliation
{
    public static async Task<FaultReport> ReconcileAsync(
        ProcessingStack stack, string scenario, string fault, string tenantId, TrafficResult traffic, string notes, TimeSpan within)
    {
        await SettleAsync(stack, tenantId, traffic.Acknowledged.Count, within);

        var rows = await StoredRowsAsync(stack, tenantId);
        var duplicateRows = rows.Values.Sum(n => n - 1);
        var lost = traffic.Acknowledged.Count(id => !rows.ContainsKey(id));
        var unexpected = rows.Keys.Count(id => !traffic.Sent.ContainsKey(id));
        var expectedCost = rows.Keys.Where(traffic.Sent.ContainsKey).Sum(id => traffic.Sent[id].ExpectedCostUsd);

        // A rollup that counted an event twice is a duplicate too, even where the raw rows merged it away.
        var rollupsExact = true;
        var rollupDuplicates = 0L;
        var costsExact = await stack.SumAsync("SELECT sum(cost_usd) FROM usage_events WHERE tenant_id = {tenant:String}", tenantId) == expectedCost;
        foreach (var rollup in ProcessingStack.Rollups)
        {
            var events = (long)await stack.CountAsync($"SELECT sum(events) FROM {rollup} WHERE tenant_id = {{tenant:String}}", tenantId);
            rollupsExact &= events == rows.Count;
            rollupDuplicates = Math.Max(rollupDuplicates, events - rows.Count);
            costsExact &= await stack.SumAsync($"SELECT sum(cost_usd) FROM {rollup} WHERE tenant_id = {{tenant:String}}", tenantId) == expectedCost;
        }

        costsExact &= await stack.CountAsync("SELECT countIf(NOT priced) FROM usage_events WHERE tenant_id = {tenant:String}", tenantId) == 0;
        var repeats = await stack.CountAsync("SELECT count() FROM usage_duplicates WHERE tenant_id = {tenant:String}", tenantId);

        var requests = $"{traffic.Attempts:N0} requests" + (traffic.Failures.Count == 0
            ? ""
            : $" (failed: {string.Join(", ", traffic.Failures.Select(f => $"{f.Key} ×{f.Value}"))})");
        // Which ones, for the diagnosis: a stalled consumer loses the tail of every client, a skipped batch a run in the middle.
        var lostSample = lost == 0 ? "" : "lost e.g. " + string.Join(", ", traffic.Acknowledged.Where(id => !rows.ContainsKey(id)).Order(StringComparer.Ordinal).Take(3));
        var detail = string.Join("; ", new[] { notes, requests, repeats > 0 ? $"{repeats:N0} repeats recognised" : "", lostSample }.Where(part => part.Length > 0));

        return new FaultReport(scenario, fault, traffic.Sent.Count, traffic.Acknowledged.Count, rows.Count,
            (int)Math.Max(duplicateRows, rollupDuplicates), lost, unexpected, rollupsExact, costsExact, detail);
    }

    /// <summary>Until every acknowledged event is stored and the counts stop moving, or <paramref name="within"/> passes (then the report shows what is missing).</summary>
    private static async Task SettleAsync(ProcessingStack stack, string tenantId, int acknowledged, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var (previous, steady) = (-1L, 0);
        while (DateTime.UtcNow < deadline && steady < 3)
        {
            var stored = (long)await stack.CountAsync("SELECT uniqExact(event_id) FROM usage_events WHERE tenant_id = {tenant:String}", tenantId);
            steady = stored >= acknowledged && stored == previous ? steady + 1 : 0;
            previous = stored;
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    private static async Task<Dictionary<string, int>> StoredRowsAsync(ProcessingStack stack, string tenantId)
    {
        var parameters = new ClickHouseParameterCollection();
        parameters.AddParameter("tenant", tenantId);
        var rows = new Dictionary<string, int>(StringComparer.Ordinal);
        using var reader = await stack.Analytics.ExecuteReaderAsync(
            "SELECT event_id, count() FROM usage_events WHERE tenant_id = {tenant:String} GROUP BY event_id", parameters);
        while (reader.Read())
        {
            rows[reader.GetString(0)] = Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture);
        }

        return rows;
    }
}
