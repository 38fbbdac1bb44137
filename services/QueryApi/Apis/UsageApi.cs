using Tokage.Analytics;
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
        ["environment"] = UsageDimension.Environment, ["customer"] = UsageDimension.Customer, ["day"] = UsageDimension.Day, ["hour"] = UsageDimension.Hour,
    };

    /// <summary>The widest range one breakdown may cover.</summary>
    public static readonly TimeSpan MaxRange = TimeSpan.FromDays(400);

    public static void MapUsageApi(this WebApplication app)
    {
        var usage = app.MapGroup("/v1/usage").WithTags("Usage");
        usage.MapGet("/breakdown", async (HttpContext context, IApiKeyResolver keys, UsageQueries queries, TenantQueryLimits limits) =>
        {
            var (tenant, refusal) = await Caller.UsageReaderAsync(context, keys);
            if (refusal is not null)
            {
                return refusal;
            }

            var (query, errors) = Parse(context.Request.Query);
            if (errors.Count > 0)
            {
                return Results.ValidationProblem(errors, detail: "The breakdown request is not valid.");
            }

            var (result, problem) = await RunAsync(context, limits, queries, tenant!, query!);
            if (problem is not null)
            {
                return problem;
            }

            var rows = result!.Rows.Select(r => Row(r.Keys, r.Totals)).ToList();
            if (Csv.Wanted(context.Request))
            {
                return Csv.Result(rows, [.. query!.GroupBy.Select(Name), .. TotalColumns], "breakdown.csv");
            }

            return Results.Ok(new Dictionary<string, object?>
            {
                ["from"] = query!.From, ["to"] = query.To, ["tz"] = query.TimeZone.Id,
                ["group_by"] = query.GroupBy.Select(Name).ToList(), ["source"] = result.Source.WireName(),
                ["rows"] = rows,
                ["totals"] = Row(new Dictionary<UsageDimension, string>(), result.Totals),
                ["unpriced_events"] = result.Totals.UnpricedEvents,
            });
        });

        // The same numbers per hour or day, one series per group, for charts.
        usage.MapGet("/timeseries", async (HttpContext context, IApiKeyResolver keys, UsageQueries queries, TenantQueryLimits limits) =>
        {
            var (tenant, refusal) = await Caller.UsageReaderAsync(context, keys);
            if (refusal is not null)
            {
                return refusal;
            }

            var (query, errors) = Parse(context.Request.Query);
            var interval = context.Request.Query["interval"].ToString() switch
            {
                "hour" => UsageDimension.Hour,
                "day" or "" => UsageDimension.Day,
                var other => (UsageDimension?)null,
            };
            if (interval is null)
            {
                errors["interval"] = ["'interval' is hour or day."];
            }
            else if (query is not null && query.GroupBy.Any(d => d is UsageDimension.Day or UsageDimension.Hour))
            {
                errors["group_by"] = ["A timeseries is already by time: group_by takes the other dimensions."];
            }

            if (errors.Count > 0)
            {
                return Results.ValidationProblem(errors, detail: "The timeseries request is not valid.");
            }

            var timed = query! with { GroupBy = [interval!.Value, .. query!.GroupBy] };
            var (result, problem) = await RunAsync(context, limits, queries, tenant!, timed);
            if (problem is not null)
            {
                return problem;
            }

            var time = Name(interval.Value);
            if (Csv.Wanted(context.Request))
            {
                return Csv.Result(result!.Rows.Select(r => Row(r.Keys, r.Totals)).ToList(), [time, .. query.GroupBy.Select(Name), .. TotalColumns], "timeseries.csv");
            }

            var series = result!.Rows
                .GroupBy(r => string.Join('\u001f', query.GroupBy.Select(d => r.Keys[d])))
                .Select(g =>
                {
                    var first = g.First();
                    var entry = query.GroupBy.ToDictionary(Name, d => (object?)first.Keys[d]);
                    entry["points"] = g.OrderBy(r => r.Keys[interval.Value], StringComparer.Ordinal)
                        .Select(r => Row(new Dictionary<UsageDimension, string> { [interval.Value] = r.Keys[interval.Value] }, r.Totals)).ToList();
                    return entry;
                })
                .ToList();
            return Results.Ok(new Dictionary<string, object?>
            {
                ["from"] = query.From, ["to"] = query.To, ["tz"] = query.TimeZone.Id, ["interval"] = time,
                ["group_by"] = query.GroupBy.Select(Name).ToList(), ["source"] = result.Source.WireName(),
                ["series"] = series,
                ["totals"] = Row(new Dictionary<UsageDimension, string>(), result.Totals),
            });
        });
    }

    private static readonly string[] TotalColumns =
        ["events", "unpriced_events", "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens",
        .. ModalityTokens.ColumnNames, "images", "audio_seconds", "web_search_queries", "cost_usd", "adjustments_usd"];

    private static async Task<(BreakdownResult? Result, IResult? Problem)> RunAsync(
        HttpContext context, TenantQueryLimits limits, UsageQueries queries, string tenant, BreakdownQuery query)
    {
        try
        {
            return (await limits.RunAsync(tenant, () => queries.BreakdownAsync(tenant, query, context.RequestAborted)), null);
        }
        catch (ArgumentException ex)
        {
            return (null, Results.ValidationProblem(new Dictionary<string, string[]> { ["query"] = [ex.Message] }));
        }
        catch (QueryRefusedException refused)
        {
            return (null, refused.ToProblem(context));
        }
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

        var filters = ParseFilters(parameters, errors);

        return errors.Count > 0
            ? (null, errors)
            : (new BreakdownQuery { From = from, To = to, GroupBy = groupBy, Filters = filters, TimeZone = zone }, errors);
    }

    /// <summary><c>filter[dimension]=value</c> parameters: equality on any non-time dimension.</summary>
    internal static Dictionary<UsageDimension, string> ParseFilters(IQueryCollection parameters, Dictionary<string, string[]> errors)
    {
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

        return filters;
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
        // The non-text parts of the counts above (audio, image, video), and the units beside them.
        foreach (var (column, count) in ModalityTokens.ColumnNames.Zip(totals.Modalities.ToArray()))
        {
            row[column] = count;
        }

        row["images"] = totals.Images;
        row["audio_seconds"] = Money.Format(totals.AudioSeconds);
        row["web_search_queries"] = totals.WebSearchQueries;
        // A decimal string: exact whatever the client's JSON number type; null when nothing in the group was priced.
        row["cost_usd"] = totals.CostUsd is { } cost ? Money.Format(cost) : null;
        // What repricings (corrected prices, prices that arrived later) added since; cost_usd stays what was charged.
        row["adjustments_usd"] = Money.Format(totals.AdjustmentsUsd);
        return row;
    }

    private static string Name(UsageDimension dimension) => dimension.ToString().ToLowerInvariant();
}
