using System.Globalization;
using Tokage.Analytics.Queries;
using Tokage.ApiKeys;

namespace Tokage.QueryApi.Apis;

/// <summary>
/// <c>GET /v1/usage/breakdown?from=&amp;to=&amp;group_by=&amp;tz=&amp;filter[dimension]=</c>: the caller's tenant's usage over
/// <c>[from, to)</c>, grouped by any of model, provider, application, project, user, team, environment, day and hour
/// (days and hours in <c>tz</c>, an IANA zone, UTC by default). Money is a decimal string, exact, and null for a group
/// of only unpriced events. Answered from the daily or hourly rollup when the range and grouping allow, raw rows otherwise.
/// </summary>
public static class UsageApi
{
    private static readonly Dictionary<string, UsageDimension> Dimensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ["provider"] = UsageDimension.Provider, ["model"] = UsageDimension.Model, ["application"] = UsageDimension.Application,
        ["project"] = UsageDimension.Project, ["user"] = UsageDimension.User, ["team"] = UsageDimension.Team,
        ["environment"] = UsageDimension.Environment, ["day"] = UsageDimension.Day, ["hour"] = UsageDimension.Hour,
    };

    /// <summary>The widest range one breakdown may cover.</summary>
    public static readonly TimeSpan MaxRange = TimeSpan.FromDays(400);

    public static void MapUsageApi(this WebApplication app)
    {
        app.MapGroup("/v1/usage").WithTags("Usage").MapGet("/breakdown", async (HttpContext context, IApiKeyResolver keys, UsageQueries queries) =>
        {
            var (identity, refusal) = await keys.AuthenticateAsync(context, ApiKeyScopes.Read);
            if (refusal is not null)
            {
                return refusal;
            }

            var (query, errors) = Parse(context.Request.Query);
            if (errors.Count > 0)
            {
                return Results.ValidationProblem(errors, detail: "The breakdown request is not valid.");
            }

            BreakdownResult result;
            try
            {
                result = await queries.BreakdownAsync(identity!.TenantId, query!, context.RequestAborted);
            }
            catch (ArgumentException ex)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["query"] = [ex.Message] });
            }

            return Results.Ok(new Dictionary<string, object?>
            {
                ["from"] = query!.From, ["to"] = query.To, ["tz"] = query.TimeZone.Id,
                ["group_by"] = query.GroupBy.Select(Name).ToList(), ["source"] = result.Source.ToString().ToLowerInvariant(),
                ["rows"] = result.Rows.Select(r => Row(r.Keys, r.Totals)).ToList(),
                ["totals"] = Row(new Dictionary<UsageDimension, string>(), result.Totals),
                ["unpriced_events"] = result.Totals.UnpricedEvents,
            });
        });
    }

    internal static (BreakdownQuery? Query, Dictionary<string, string[]> Errors) Parse(IQueryCollection parameters)
    {
        var errors = new Dictionary<string, string[]>();
        DateTimeOffset Instant(string name)
        {
            var text = parameters[name].ToString();
            if (text.Length == 0)
            {
                errors[name] = [$"'{name}' is required (RFC 3339, e.g. 2026-11-01T00:00:00Z)."];
            }
            else if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value))
            {
                return value;
            }
            else
            {
                errors[name] = [$"'{name}' is not an RFC 3339 date-time: '{text}'."];
            }

            return default;
        }

        var from = Instant("from");
        var to = Instant("to");
        if (!errors.ContainsKey("from") && !errors.ContainsKey("to") && (to <= from || to - from > MaxRange))
        {
            errors["to"] = [$"'to' must be after 'from' and at most {MaxRange.TotalDays:0} days later."];
        }

        var groupBy = new List<UsageDimension>();
        foreach (var name in parameters["group_by"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Dimensions.TryGetValue(name, out var dimension))
            {
                errors["group_by"] = [$"Unknown dimension '{name}'; one of {string.Join(", ", Dimensions.Keys)}."];
            }
            else if (!groupBy.Contains(dimension))
            {
                groupBy.Add(dimension);
            }
        }

        var zone = TimeZoneInfo.Utc;
        if (parameters["tz"].ToString() is { Length: > 0 } tz && !TimeZoneInfo.TryFindSystemTimeZoneById(tz, out zone!))
        {
            errors["tz"] = [$"Unknown time zone '{tz}' (an IANA name, e.g. Europe/Paris)."];
            zone = TimeZoneInfo.Utc;
        }

        var filters = new Dictionary<UsageDimension, string>();
        foreach (var (key, value) in parameters.Where(p => p.Key.StartsWith("filter[", StringComparison.Ordinal) && p.Key.EndsWith(']')))
        {
            var name = key["filter[".Length..^1];
            if (!Dimensions.TryGetValue(name, out var dimension) || dimension is UsageDimension.Day or UsageDimension.Hour)
            {
                errors[key] = [$"'{name}' cannot be filtered on; filter on provider, model, application, project, user, team or environment."];
            }
            else
            {
                filters[dimension] = value.ToString();
            }
        }

        return errors.Count > 0
            ? (null, errors)
            : (new BreakdownQuery { From = from, To = to, GroupBy = groupBy, Filters = filters, TimeZone = zone }, errors);
    }

    private static Dictionary<string, object?> Row(IReadOnlyDictionary<UsageDimension, string> keys, UsageTotals totals)
    {
        var row = keys.ToDictionary(k => Name(k.Key), k => (object?)k.Value);
        row["events"] = totals.Events;
        row["unpriced_events"] = totals.UnpricedEvents;
        row["input_tokens"] = totals.InputTokens;
        row["cache_read_tokens"] = totals.CacheReadTokens;
        row["cache_write_tokens"] = totals.CacheWriteTokens;
        row["cache_write_1h_tokens"] = totals.CacheWrite1hTokens;
        row["output_tokens"] = totals.OutputTokens;
        row["reasoning_tokens"] = totals.ReasoningTokens;
        // A decimal string: exact whatever the client's JSON number type; null when nothing in the group was priced.
        row["cost_usd"] = totals.CostUsd is { } cost ? Money.Format(cost) : null;
        return row;
    }

    private static string Name(UsageDimension dimension) => dimension.ToString().ToLowerInvariant();
}
