using System.Diagnostics;
using System.Diagnostics.Metrics;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Tokage.ApiKeys;
using Tokage.Contracts.V1;
using Tokage.EventLog;
using Tokage.Ingestion.Validation;

namespace Tokage.Ingestion.Ingest;

/// <summary>An event as it arrived, with what its decoding already found wrong.</summary>
/// <param name="ModelOptional">A span's usage: stored unpriced when it names no model or provider (see <see cref="EventValidator.Validate"/>).</param>
public sealed record IngestCandidate(TokenUsageEvent Event, List<FieldProblem> Problems, bool HadClientCost, bool ModelOptional = false);

public sealed record Rejection(int Index, string EventId, IReadOnlyList<FieldProblem> Errors);

public enum IngestFailure
{
    None,

    /// <summary>The tenant's rate limit: nothing of the request was logged (429, retry after <see cref="IngestOutcome.RetryAfter"/>).</summary>
    RateLimited,

    /// <summary>The log did not acknowledge in time: nothing of the request was acknowledged (503).</summary>
    LogUnavailable,

    /// <summary>OTLP: the store of which spans have usage below them (Redis) could not be read; nothing was accepted (503), rather than risk billing a wrapper.</summary>
    AncestryUnavailable,

    /// <summary>The rate limiter cannot be reached and the deployment refuses unlimited ingestion (503, see <see cref="IngestOutcome.FailureDetail"/>).</summary>
    LimiterUnavailable,

    /// <summary>More valid events than the tenant's burst: no wait would ever let the request through (400, never an endless 429).</summary>
    ExceedsBurst,
}

public sealed record IngestOutcome(int Accepted, IReadOnlyList<Rejection> Rejected, IReadOnlyList<string> Warnings, IngestFailure Failure = IngestFailure.None, TimeSpan RetryAfter = default)
{
    /// <summary>What to tell the client about the failure, where the failure alone does not say it.</summary>
    public string? FailureDetail { get; init; }
}

/// <summary>
/// What every ingest path shares: validate each event (a bad one never rejects its neighbours), take the
/// valid ones from the tenant's rate limit, append them to the durable log, and only then report them accepted.
/// </summary>
public sealed class IngestPipeline(EventValidator validator, TenantRateLimiter limiter, IEventLog log, TimeProvider time)
{
    public const uint SchemaVersion = 1;

    private static readonly Meter Meter = new("Tokage.Ingestion");
    private static readonly Counter<long> Events = Meter.CreateCounter<long>("tokage.ingest.events", description: "Events accepted (in the log) or rejected, by reason.");
    private static readonly Histogram<double> AppendDuration = Meter.CreateHistogram<double>("tokage.ingest.log_append.duration", unit: "s", description: "Time to append a request's events to the durable log (acks=all).");

    /// <summary>
    /// A key scoped to a project, application or team reports that scope's usage only: an event that names none gets the
    /// scope's name; one that names another is refused (400 for that event), never stored under the other.
    /// </summary>
    internal static FieldProblem? OutsideKeyScope(ApiKeyIdentity identity, TokenUsageEvent usage)
    {
        var named = identity.ScopeKind switch
        {
            "project" => usage.Project,
            "application" => usage.Application,
            "team" => usage.Team,
            _ => null,
        };
        if (named is null)
        {
            return new FieldProblem(identity.ScopeKind!, "outside_key_scope", $"This key's scope kind '{identity.ScopeKind}' is not one this service knows.");
        }

        if (named.Length == 0)
        {
            switch (identity.ScopeKind)
            {
                case "project": usage.Project = identity.ScopeValue; break;
                case "application": usage.Application = identity.ScopeValue; break;
                default: usage.Team = identity.ScopeValue; break;
            }

            return null;
        }

        return named == identity.ScopeValue
            ? null
            : new FieldProblem(identity.ScopeKind!, "outside_key_scope", $"This key reports usage for {identity.ScopeKind} '{identity.ScopeValue}' only, not '{named}'.");
    }

    public async Task<IngestOutcome> IngestAsync(ApiKeyIdentity identity, IReadOnlyList<IngestCandidate> candidates, string source, CancellationToken cancellationToken)
    {
        var rejected = new List<Rejection>();
        var valid = new List<TokenUsageEvent>(candidates.Count);
        var costIgnored = new List<int>();
        for (var i = 0; i < candidates.Count; i++)
        {
            var candidate = candidates[i];
            List<FieldProblem> known = [.. candidate.Problems];
            if (identity.IsScoped && OutsideKeyScope(identity, candidate.Event) is { } outside)
            {
                known.Add(outside);
            }

            var problems = validator.Validate(candidate.Event, known, candidate.ModelOptional);
            if (candidate.HadClientCost || candidate.Event.ClientCostUsd.Length > 0)
            {
                costIgnored.Add(i);
            }

            if (problems.Count > 0)
            {
                rejected.Add(new Rejection(i, candidate.Event.EventId, problems));
            }
            else
            {
                valid.Add(candidate.Event);
            }
        }

        var warnings = costIgnored.Count == 0
            ? []
            : new List<string> { $"Client-supplied cost ignored for event(s) at {Indexes(costIgnored)}: Tokage prices every event server-side." };
        if (valid.Count == 0)
        {
            Count(rejected, 0, null);
            return new IngestOutcome(0, rejected, warnings);
        }

        if (identity.Burst > 0 && valid.Count > identity.Burst)
        {
            Count(rejected, valid.Count, "exceeds_burst");
            return new IngestOutcome(0, rejected, warnings, IngestFailure.ExceedsBurst)
            {
                FailureDetail = $"The request carries {valid.Count} valid events, more than the tenant's burst of {identity.Burst}: a request takes all its " +
                    $"events from the rate limit or none, so it could never pass. Send at most {identity.Burst} events per request.",
            };
        }

        var decision = await limiter.TryTakeAsync(identity.TenantId, identity.EventsPerSecond, identity.Burst, valid.Count);
        if (decision.LimiterUnavailable)
        {
            Count(rejected, valid.Count, "limiter_unavailable");
            return new IngestOutcome(0, rejected, warnings, IngestFailure.LimiterUnavailable, decision.RetryAfter)
            {
                FailureDetail = "The rate limiter (Redis) cannot be reached, and this deployment admits no usage it cannot limit " +
                    "(Tokage:Ingest:RateLimitWhenRedisDown = FailClosed); nothing was accepted. Retry with the same ids.",
            };
        }

        if (!decision.Allowed)
        {
            Count(rejected, valid.Count, "rate_limited");
            return new IngestOutcome(0, rejected, warnings, IngestFailure.RateLimited, decision.RetryAfter);
        }

        var receivedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow());
        var records = valid.Select(e => new EventLogRecord(identity.TenantId, new LoggedUsageEvent
        {
            SchemaVersion = SchemaVersion,
            TenantId = identity.TenantId,
            KeyId = identity.KeyId,
            ReceivedAt = receivedAt,
            Source = source,
            Event = e,
        }.ToByteArray())).ToList();
        var started = Stopwatch.GetTimestamp();
        try
        {
            await log.AppendAsync(records, cancellationToken);
        }
        catch (EventLogUnavailableException)
        {
            Count(rejected, valid.Count, "log_unavailable");
            return new IngestOutcome(0, rejected, warnings, IngestFailure.LogUnavailable, TimeSpan.FromSeconds(1));
        }
        finally
        {
            AppendDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }

        Count(rejected, 0, null);
        Events.Add(valid.Count, new KeyValuePair<string, object?>("outcome", "accepted"));
        return new IngestOutcome(valid.Count, rejected, warnings);
    }

    /// <summary>Rejected events by their first problem's code, and <paramref name="refused"/> valid ones refused for <paramref name="reason"/>.</summary>
    private static void Count(List<Rejection> rejected, int refused, string? reason)
    {
        foreach (var code in rejected.GroupBy(r => r.Errors.Count > 0 ? r.Errors[0].Code : "invalid"))
        {
            Events.Add(code.Count(), new KeyValuePair<string, object?>("outcome", "rejected"), new KeyValuePair<string, object?>("reason", code.Key));
        }

        if (refused > 0)
        {
            Events.Add(refused, new KeyValuePair<string, object?>("outcome", "rejected"), new KeyValuePair<string, object?>("reason", reason));
        }
    }

    private static string Indexes(List<int> indexes) =>
        indexes.Count <= 10 ? string.Join(", ", indexes) : string.Join(", ", indexes.Take(10)) + $" and {indexes.Count - 10} more";
}
