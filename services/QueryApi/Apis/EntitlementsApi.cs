using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;
using Tokage.ApiKeys;
using Tokage.Integrations;
using Tokage.QueryApi.Entitlements;

namespace Tokage.QueryApi.Apis;

/// <summary>
/// For apps that must stop before spending. <c>POST /v1/entitlements/check</c> with <c>{"scope": {"kind": "team",
/// "value": "cx"}}</c> (no scope: the whole tenant): every budget that covers the scope — the tenant's own budgets cover
/// every scope — with its period-to-date spend, the room live reservations hold, and what remains; <c>allowed</c> is
/// false once a budget with a hard limit is spent or held. <c>POST /v1/entitlements/reserve</c> holds room for one
/// call atomically (fifty concurrent callers cannot all hear yes); the call's event settles it. Usage is never refused
/// because of either: ingestion still accepts and records every event.
/// </summary>
public static class EntitlementsApi
{
    private static readonly Dictionary<string, string> Kinds = new(StringComparer.OrdinalIgnoreCase)
    {
        ["tenant"] = "Tenant", ["project"] = "Project", ["application"] = "Application", ["team"] = "Team", ["user"] = "User",
    };

    private static readonly TimeSpan DefaultTtl = TimeSpan.FromMinutes(2);

    // What numeric(38, 18) holds with room to spare; no single call costs near it.
    private const decimal MaxAmountUsd = 1_000_000_000_000m;

    public sealed record ScopeRequest(string? Kind, string? Value);

    public sealed record CheckRequest(ScopeRequest? Scope);

    public sealed record ReserveRequest(
        ScopeRequest? Scope,
        [property: JsonPropertyName("estimated_cost_usd")] JsonElement? EstimatedCostUsd,
        [property: JsonPropertyName("ttl_seconds")] int? TtlSeconds,
        [property: JsonPropertyName("reservation_id")] string? ReservationId);

    public static void MapEntitlementsApi(this WebApplication app)
    {
        var entitlements = app.MapGroup("/v1/entitlements").WithTags("Entitlements");
        entitlements.MapPost("/check", async (CheckRequest? request, HttpContext context, IApiKeyResolver keys, NpgsqlDataSource database,
            BudgetReservations reservations, TimeProvider time) =>
        {
            var (tenant, refusal) = await Caller.TenantAsync(context, keys);
            if (refusal is not null)
            {
                return refusal;
            }

            var errors = new Dictionary<string, string[]>();
            var (kind, storedKind, value) = ParseScope(request?.Scope, errors);
            if (errors.Count > 0)
            {
                return Results.ValidationProblem(errors);
            }

            List<BudgetStanding> standings;
            try
            {
                standings = await database.InTenantAsync(Guid.Parse(tenant!), async (connection, transaction) =>
                {
                    var budgets = await TenantBudgets.CoveringAsync(connection, transaction, storedKind, value, context.RequestAborted);
                    return await reservations.StandingsAsync(connection, transaction, tenant!, budgets, time.GetUtcNow(), context.RequestAborted, settlementsRequired: false);
                }, context.RequestAborted);
            }
            catch (Exception ex) when (ReservationsUnavailableException.IsTransient(ex))
            {
                return Unavailable(context, "The entitlement check cannot be answered now: the budgets or the usage store did not answer. Retry shortly.");
            }

            return Results.Ok(new
            {
                allowed = !standings.Any(s => s.Exceeded && s.Budget.HardLimit),
                scope = new { kind = kind.ToLowerInvariant(), value },
                budgets = standings.Select(s => new
                {
                    budget_id = s.Budget.Id, name = s.Budget.Name, scope = new { kind = s.Budget.ScopeKind.ToLowerInvariant(), value = s.Budget.ScopeValue },
                    period = s.Budget.Period.ToLowerInvariant(), period_start = s.Window.Start, period_end = s.Window.End,
                    amount_usd = Money.Format(s.Budget.AmountUsd), spend_usd = Money.Format(s.SpentUsd), reserved_usd = Money.Format(s.ReservedUsd),
                    remaining_usd = Money.Format(s.RemainingUsd), hard_limit = s.Budget.HardLimit, exceeded = s.Exceeded,
                }),
            });
        });

        entitlements.MapPost("/reserve", async (ReserveRequest? request, HttpContext context, IApiKeyResolver keys, BudgetReservations reservations) =>
        {
            var (tenant, refusal) = await Caller.TenantAsync(context, keys);
            if (refusal is not null)
            {
                return refusal;
            }

            var errors = new Dictionary<string, string[]>();
            var (_, storedKind, value) = ParseScope(request?.Scope, errors);
            var estimate = ParseMoney(request?.EstimatedCostUsd, "estimated_cost_usd", errors);
            var ttl = request?.TtlSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultTtl;
            if (ttl <= TimeSpan.Zero || ttl > Tokage.EventLog.ReservationSettlements.MaxReservationTtl)
            {
                errors["ttl_seconds"] = [$"'ttl_seconds' is 1 to {Tokage.EventLog.ReservationSettlements.MaxReservationTtl.TotalSeconds:0}."];
            }

            var reservationId = request?.ReservationId ?? "rsv_" + Guid.CreateVersion7().ToString("N");
            if (reservationId.Length is 0 or > 128)
            {
                errors["reservation_id"] = ["'reservation_id' is 1 to 128 characters (omit it to have one made)."];
            }

            if (errors.Count > 0)
            {
                return Results.ValidationProblem(errors, detail: "The reservation request is not valid.");
            }

            try
            {
                var answer = await reservations.ReserveAsync(tenant!, storedKind, value, estimate!.Value, ttl, reservationId, context.RequestAborted);
                return Results.Ok(new
                {
                    granted = answer.Granted, reservation_id = answer.ReservationId,
                    remaining_usd = answer.RemainingUsd is { } remaining ? Money.Format(remaining) : null,
                    expires_at = answer.ExpiresAt, limited_by = answer.LimitedBy,
                });
            }
            catch (ReservationsUnavailableException unavailable)
            {
                return Unavailable(context, unavailable.Message);
            }
            catch (ReservationConflictException conflict)
            {
                return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Reservation id in use", detail: conflict.Message);
            }
        });

        entitlements.MapDelete("/reservations/{reservationId}", async (string reservationId, HttpContext context, IApiKeyResolver keys, BudgetReservations reservations) =>
        {
            var (tenant, refusal) = await Caller.TenantAsync(context, keys);
            if (refusal is not null)
            {
                return refusal;
            }

            try
            {
                return await reservations.ReleaseAsync(tenant!, reservationId, context.RequestAborted)
                    ? Results.NoContent()
                    : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such reservation", detail: $"This tenant has no reservation '{reservationId}'.");
            }
            catch (Exception ex) when (ReservationsUnavailableException.IsTransient(ex))
            {
                return Unavailable(context, "The reservation cannot be released now: the budget store did not answer. Retry shortly; it expires at its TTL either way.");
            }
        });
    }

    private static IResult Unavailable(HttpContext context, string detail)
    {
        context.Response.Headers.RetryAfter = "1";
        return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Entitlements unavailable", detail: detail);
    }

    /// <summary>The scope as the caller names it, its stored kind (<c>Tenant</c>, <c>Team</c>, …) and value; problems into <paramref name="errors"/>.</summary>
    private static (string Kind, string StoredKind, string Value) ParseScope(ScopeRequest? scope, Dictionary<string, string[]> errors)
    {
        var kind = scope?.Kind ?? "tenant";
        var value = scope?.Value ?? "";
        if (!Kinds.TryGetValue(kind, out var storedKind))
        {
            errors["scope.kind"] = [$"'{kind}' is not tenant, project, application, team or user."];
            return (kind, "", value);
        }

        if (storedKind != "Tenant" && value.Length == 0)
        {
            errors["scope.value"] = [$"A {kind} scope names its value."];
        }

        return (kind, storedKind, value);
    }

    /// <summary>A non-negative amount of dollars, as a decimal string or a JSON number read as decimal (never through a float).</summary>
    private static decimal? ParseMoney(JsonElement? element, string field, Dictionary<string, string[]> errors)
    {
        var text = element switch
        {
            { ValueKind: JsonValueKind.String } e => e.GetString(),
            { ValueKind: JsonValueKind.Number } e => e.GetRawText(),
            _ => null,
        };
        if (text is not null && decimal.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var amount)
            && amount is >= 0m and <= MaxAmountUsd && amount.Scale <= 18)
        {
            return amount;
        }

        errors[field] = [$"'{field}' is required: a non-negative amount of US dollars up to {MaxAmountUsd:0} with at most 18 decimals, e.g. \"0.05\"."];
        return null;
    }
}
