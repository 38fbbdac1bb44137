using System.Globalization;
using Npgsql;
using Tokage.Analytics.Queries;
using Tokage.ApiKeys;

namespace Tokage.QueryApi.Apis;

/// <summary>
/// <c>POST /v1/entitlements/check</c> with <c>{"scope": {"kind": "team", "value": "cx"}}</c> (no scope: the whole tenant):
/// for apps that must stop before spending. Every budget that covers the scope — the tenant's own budgets cover every
/// scope — with its period-to-date spend and what remains; <c>allowed</c> is false once a budget with a hard limit is
/// spent. Usage is never refused because of it: ingestion still accepts and records every event.
/// </summary>
public static class EntitlementsApi
{
    private static readonly Dictionary<string, string> Kinds = new(StringComparer.OrdinalIgnoreCase)
    {
        ["tenant"] = "Tenant", ["project"] = "Project", ["application"] = "Application", ["team"] = "Team", ["user"] = "User",
    };

    public sealed record ScopeRequest(string? Kind, string? Value);

    public sealed record CheckRequest(ScopeRequest? Scope);

    public static void MapEntitlementsApi(this WebApplication app)
    {
        app.MapGroup("/v1/entitlements").WithTags("Entitlements").MapPost("/check", async (CheckRequest? request, HttpContext context, IApiKeyResolver keys,
            NpgsqlDataSource database, BudgetSpend spend, TimeProvider time) =>
        {
            var (tenant, refusal) = await Caller.TenantAsync(context, keys);
            if (refusal is not null)
            {
                return refusal;
            }

            var kind = request?.Scope?.Kind ?? "tenant";
            var value = request?.Scope?.Value ?? "";
            if (!Kinds.TryGetValue(kind, out var storedKind))
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["scope.kind"] = [$"'{kind}' is not tenant, project, application, team or user."] });
            }

            if (storedKind != "Tenant" && value.Length == 0)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["scope.value"] = [$"A {kind} scope names its value."] });
            }

            var now = time.GetUtcNow();
            var answers = new List<object>();
            var allowed = true;
            foreach (var budget in await BudgetsCoveringAsync(database, tenant!, storedKind, value, context.RequestAborted))
            {
                var window = BudgetWindow.Containing(Enum.Parse<BudgetPeriodKind>(budget.Period, ignoreCase: true), TimeZoneInfo.FindSystemTimeZoneById(budget.TimeZone), now);
                var spent = await spend.InWindowAsync(tenant!, BudgetScope.Dimension(budget.ScopeKind), budget.ScopeValue, window, context.RequestAborted);
                var exceeded = spent >= budget.AmountUsd;
                allowed &= !(exceeded && budget.HardLimit);
                answers.Add(new
                {
                    budget_id = budget.Id, name = budget.Name, scope = new { kind = budget.ScopeKind.ToLowerInvariant(), value = budget.ScopeValue },
                    period = budget.Period.ToLowerInvariant(), period_start = window.Start, period_end = window.End,
                    amount_usd = Money.Format(budget.AmountUsd), spend_usd = Money.Format(spent), remaining_usd = Money.Format(Math.Max(0m, budget.AmountUsd - spent)),
                    hard_limit = budget.HardLimit, exceeded,
                });
            }

            return Results.Ok(new { allowed, scope = new { kind = kind.ToLowerInvariant(), value }, budgets = answers });
        });
    }

    private sealed record BudgetRow(Guid Id, string Name, string ScopeKind, string ScopeValue, string Period, string TimeZone, decimal AmountUsd, bool HardLimit);

    /// <summary>The tenant's budgets on this scope and on the tenant as a whole, read under the tenant's RLS scope.</summary>
    private static async Task<List<BudgetRow>> BudgetsCoveringAsync(NpgsqlDataSource database, string tenant, string kind, string value, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var scope = new NpgsqlCommand("SELECT set_config('tokage.tenant_id', @tenant, true)", connection, transaction))
        {
            scope.Parameters.AddWithValue("tenant", tenant);
            await scope.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var command = new NpgsqlCommand(
            "SELECT id, name, scope_kind, scope_value, period, time_zone, amount_usd, hard_limit FROM budgets " +
            "WHERE scope_kind = 'Tenant' OR (scope_kind = @kind AND scope_value = @value) ORDER BY name", connection, transaction);
        command.Parameters.AddWithValue("kind", kind);
        command.Parameters.AddWithValue("value", value);
        var budgets = new List<BudgetRow>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                budgets.Add(new BudgetRow(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                    reader.GetString(5), reader.GetDecimal(6), reader.GetBoolean(7)));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return budgets;
    }
}
