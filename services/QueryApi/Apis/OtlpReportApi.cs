using System.Globalization;
using System.Text.Json.Nodes;
using StackExchange.Redis;
using Tokage.Analytics.Queries;
using Tokage.ApiKeys;
using Tokage.Otlp;

namespace Tokage.QueryApi.Apis;

/// <summary>
/// <c>GET /v1/otlp/report?from=&amp;to=</c>: what the caller's tenant's OTLP exports came to, per instrumentation scope
/// (name and version) — spans received, skipped without usage, skipped as wrappers over billed children, rejected by
/// reason, accepted, with notes (reported costs ignored, reasoning taken from a total) — counted by the ingestion per UTC
/// day received; and of the accepted ones as stored, how many were billed and how many are unpriced, by reason.
/// </summary>
public static class OtlpReportApi
{
    public static readonly TimeSpan MaxRange = TimeSpan.FromDays(93);

    public static void MapOtlpReportApi(this WebApplication app) =>
        app.MapGet("/v1/otlp/report", async (HttpContext context, IApiKeyResolver keys, IConnectionMultiplexer redis, EventLookups lookups, TimeProvider time) =>
        {
            var (tenant, refusal) = await Caller.TenantAsync(context, keys);
            if (refusal is not null)
            {
                return refusal;
            }

            var errors = new Dictionary<string, string[]>();
            var to = Instant(context.Request.Query, "to", errors) ?? time.GetUtcNow();
            var from = Instant(context.Request.Query, "from", errors) ?? to.AddDays(-1);
            if (errors.Count == 0 && (to <= from || to - from > MaxRange))
            {
                errors["to"] = [$"'to' must be after 'from', at most {MaxRange.TotalDays:0} days on."];
            }

            if (errors.Count > 0)
            {
                return Results.ValidationProblem(errors, detail: "The report request is not valid.");
            }

            var scopes = new SortedDictionary<(string Name, string Version), JsonObject>();
            JsonObject Of(string name, string version) =>
                scopes.TryGetValue((name, version), out var found) ? found : scopes[(name, version)] = Empty(name, version);

            var db = redis.GetDatabase();
            for (var day = DateOnly.FromDateTime(from.UtcDateTime); day.ToDateTime(TimeOnly.MinValue) < to.UtcDateTime; day = day.AddDays(1))
            {
                foreach (var entry in await db.HashGetAllAsync(OtlpReportCounters.Key(tenant!, day)))
                {
                    if (OtlpReportCounters.Parse(entry.Name.ToString()) is { } parsed && entry.Value.TryParse(out long count))
                    {
                        Add(Of(parsed.Scope.Name, parsed.Scope.Version), parsed.Counter, count);
                    }
                }
            }

            foreach (var outcome in await lookups.OtlpOutcomesAsync(tenant!, from, to, context.RequestAborted))
            {
                var scope = Of(outcome.ScopeName, outcome.ScopeVersion);
                scope["billed"] = (long)outcome.Billed;
                scope["unpriced"] = new JsonObject { ["model_missing"] = (long)outcome.UnpricedModelMissing, ["no_price"] = (long)outcome.UnpricedNoPrice };
            }

            var totals = Empty("", "");
            totals.Remove("scope");
            totals.Remove("version");
            foreach (var scope in scopes.Values)
            {
                Sum(totals, scope);
            }

            return Results.Ok(new JsonObject
            {
                ["from"] = from.ToString("O", CultureInfo.InvariantCulture), ["to"] = to.ToString("O", CultureInfo.InvariantCulture),
                ["scopes"] = new JsonArray([.. scopes.Values]),
                ["totals"] = totals,
            });
        }).WithTags("OTLP");

    private static JsonObject Empty(string name, string version) => new()
    {
        ["scope"] = name, ["version"] = version,
        ["received"] = 0L, ["skipped_without_usage"] = 0L, ["skipped_wrapper"] = 0L, ["accepted"] = 0L,
        ["rejected"] = new JsonObject(), ["notes"] = new JsonObject(),
        ["billed"] = 0L, ["unpriced"] = new JsonObject { ["model_missing"] = 0L, ["no_price"] = 0L },
    };

    private static void Add(JsonObject scope, string counter, long count)
    {
        if (counter.StartsWith(OtlpReportCounters.RejectedPrefix, StringComparison.Ordinal))
        {
            Increment(scope["rejected"]!.AsObject(), counter[OtlpReportCounters.RejectedPrefix.Length..], count);
        }
        else if (counter.StartsWith(OtlpReportCounters.NotePrefix, StringComparison.Ordinal))
        {
            Increment(scope["notes"]!.AsObject(), counter[OtlpReportCounters.NotePrefix.Length..], count);
        }
        else if (scope.ContainsKey(counter))
        {
            Increment(scope, counter, count);
        }
    }

    private static void Sum(JsonObject into, JsonObject from)
    {
        foreach (var (key, value) in from)
        {
            switch (value)
            {
                case JsonObject nested:
                    into[key] ??= new JsonObject();
                    foreach (var (inner, count) in nested)
                    {
                        Increment(into[key]!.AsObject(), inner, (long)count!);
                    }

                    break;
                case JsonValue number when key is not ("scope" or "version"):
                    Increment(into, key, (long)number);
                    break;
            }
        }
    }

    private static void Increment(JsonObject target, string key, long count) => target[key] = (target[key] is { } existing ? (long)existing : 0L) + count;

    private static DateTimeOffset? Instant(IQueryCollection query, string name, Dictionary<string, string[]> errors)
    {
        var text = query[name].ToString();
        if (text.Length == 0)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
        {
            return at;
        }

        errors[name] = [$"'{name}' must be an RFC 3339 date-time or a date (UTC), e.g. 2026-12-01."];
        return null;
    }
}
