using Tokage.Webhooks;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Tokage.Audit;
using Microsoft.Extensions.Options;
using Tokage.ControlPlane.Data;
using Tokage.Integrations;
using static Tokage.ControlPlane.Apis.ApiErrors;

namespace Tokage.ControlPlane.Apis;

/// <summary>A tenant's budgets: spend limits per calendar day or month that alert at thresholds (the billing pipeline evaluates them).</summary>
public static class BudgetsApi
{
    public const int MaxThresholds = 10;
    public const int MaxChannels = 10;

    public static RouteGroupBuilder MapBudgetsApi(this RouteGroupBuilder admin)
    {
        var tenant = admin.MapGroup("/tenants/{tenant}/budgets").WithTags("Budgets");
        tenant.MapPost("/", CreateAsync);
        tenant.MapGet("/", (string tenant, ControlPlaneDbContext db, CancellationToken ct) =>
            InTenantAsync(db, tenant, ct, async _ => Results.Ok(new { budgets = (await db.Budgets.OrderBy(b => b.Name).ToListAsync(ct)).Select(BudgetDto.From) })));
        tenant.MapGet("/{budget}", (string tenant, string budget, ControlPlaneDbContext db, CancellationToken ct) =>
            InTenantAsync(db, tenant, ct, async _ => await FindAsync(db, budget, ct) is { } found
                ? Results.Ok(BudgetDto.From(found))
                : ApiErrors.NotFound($"Budget '{budget}'")));
        tenant.MapPatch("/{budget}", UpdateAsync);
        tenant.MapGet("/{budget}/alerts", AlertsAsync);
        tenant.MapDelete("/{budget}", (string tenant, string budget, HttpContext http, ControlPlaneDbContext db, CancellationToken ct) =>
            InTenantAsync(db, tenant, ct, async _ =>
            {
                if (await FindAsync(db, budget, ct) is not { } found)
                {
                    return ApiErrors.NotFound($"Budget '{budget}'");
                }

                db.Budgets.Remove(found);
                db.Audit(http, found.TenantId, AuditKinds.BudgetDeleted, $"budget:{found.Id}", BudgetDto.From(found).ForAudit(), null);
                await db.SaveChangesAsync(ct);
                return Results.NoContent();
            }));
        return admin;
    }

    private static Task<IResult> CreateAsync(
        string tenant, BudgetRequest request, HttpContext http, ControlPlaneDbContext db, TimeProvider time, IOptions<WebhookTargetsOptions> webhooks,
        CancellationToken ct)
    {
        if (Validate(request, webhooks.Value) is { } invalid)
        {
            return Task.FromResult(invalid);
        }

        return InTenantAsync(db, tenant, ct, async found =>
        {
            var budget = new Budget
            {
                Id = Guid.CreateVersion7(),
                TenantId = found.Id,
                Name = request.Name!,
                ScopeKind = Enum.Parse<BudgetScopeKind>(request.Scope?.Kind ?? "tenant", ignoreCase: true),
                ScopeValue = request.Scope?.Value ?? "",
                Period = Enum.Parse<BudgetPeriod>(request.Period!, ignoreCase: true),
                TimeZone = request.TimeZone ?? "UTC",
                AmountUsd = request.AmountUsd!.Value,
                Thresholds = request.Thresholds is { } t ? DistinctInOrder(t) : [50, 80, 100],
                Channels = ToChannels(request.Channels ?? []),
                HardLimit = request.HardLimit ?? false,
                SigningSecret = "whsec_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
                CreatedAt = time.GetUtcNow(),
            };
            db.Budgets.Add(budget);
            db.Audit(http, found.Id, AuditKinds.BudgetCreated, $"budget:{budget.Id}", null, BudgetDto.From(budget).ForAudit());
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException ex) when (ApiErrors.IsUniqueViolation(ex))
            {
                return ApiErrors.Conflict($"Budget '{budget.Name}' exists already.");
            }

            return Results.Created($"/v1/tenants/{found.Id}/budgets/{budget.Id}", BudgetCreatedDto.From(budget));
        });
    }

    /// <summary>
    /// Changes what a budget alerts on and where: name, amount, thresholds, channels, hard limit. Scope, period and
    /// time zone define the periods its recorded alerts belong to, so they stay; a different one is a new budget.
    /// Thresholds already alerted in the current period stay alerted; channels apply to alerts raised from now on.
    /// </summary>
    private static Task<IResult> UpdateAsync(
        string tenant, string budget, BudgetRequest request, HttpContext http, ControlPlaneDbContext db, IOptions<WebhookTargetsOptions> webhooks,
        CancellationToken ct) =>
        InTenantAsync(db, tenant, ct, async _ =>
        {
            if (await FindAsync(db, budget, ct) is not { } found)
            {
                return ApiErrors.NotFound($"Budget '{budget}'");
            }

            var current = BudgetDto.From(found);
            foreach (var (field, asked, stored) in new[]
            {
                ("scope", request.Scope is null ? null : $"{request.Scope.Kind ?? "tenant"}:{request.Scope.Value}", $"{current.Scope.Kind}:{current.Scope.Value}"),
                ("period", request.Period, current.Period),
                ("time_zone", request.TimeZone, current.TimeZone),
            })
            {
                if (asked is not null && asked != stored)
                {
                    return ApiErrors.Invalid(field, $"'{field}' cannot change: the budget's recorded alerts belong to its periods. Create a new budget instead.");
                }
            }

            // The stored budget with the request's fields over it, checked as a whole as a new one would be.
            var merged = new BudgetRequest(
                request.Name ?? found.Name, current.Scope, current.Period, current.TimeZone, request.AmountUsd ?? found.AmountUsd,
                request.Thresholds ?? found.Thresholds, request.Channels ?? current.Channels, request.HardLimit ?? found.HardLimit);
            if (Validate(merged, webhooks.Value) is { } invalid)
            {
                return invalid;
            }

            found.Name = merged.Name!;
            found.AmountUsd = merged.AmountUsd!.Value;
            found.Thresholds = DistinctInOrder(merged.Thresholds!);
            found.Channels = ToChannels(merged.Channels!);
            found.HardLimit = merged.HardLimit!.Value;
            db.Audit(http, found.TenantId, AuditKinds.BudgetUpdated, $"budget:{found.Id}", current.ForAudit(), BudgetDto.From(found).ForAudit());
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException ex) when (ApiErrors.IsUniqueViolation(ex))
            {
                return ApiErrors.Conflict($"Budget '{found.Name}' exists already.");
            }

            return Results.Ok(BudgetDto.From(found));
        });

    /// <summary>The first problem with a request, as the 400 it gets; null when it is fine.</summary>
    internal static IResult? Validate(BudgetRequest request, WebhookTargetsOptions webhooks)
    {
        if (ApiErrors.CheckName(request.Name, "name") is { } nameError)
        {
            return ApiErrors.Invalid("name", nameError);
        }

        var kind = request.Scope?.Kind ?? "tenant";
        // Exact names only: Enum.TryParse would also take numbers and comma lists.
        if (kind is not ("tenant" or "project" or "application" or "team" or "user"))
        {
            return ApiErrors.Invalid("scope.kind", "'scope.kind' must be one of tenant, project, application, team, user.");
        }

        var scopeKind = Enum.Parse<BudgetScopeKind>(kind, ignoreCase: true);
        var value = request.Scope?.Value;
        if (scopeKind == BudgetScopeKind.Tenant && !string.IsNullOrEmpty(value))
        {
            return ApiErrors.Invalid("scope.value", "'scope.value' must be empty for the tenant scope.");
        }

        if (scopeKind != BudgetScopeKind.Tenant && (string.IsNullOrWhiteSpace(value) || value.Length > 200))
        {
            return ApiErrors.Invalid("scope.value", $"'scope.value' (the {kind} your events carry) is required, at most 200 characters.");
        }

        if (request.Period is not ("daily" or "monthly"))
        {
            return ApiErrors.Invalid("period", "'period' must be 'daily' or 'monthly'.");
        }

        if (request.TimeZone is { } zone && ApiErrors.CheckTimeZone(zone, "time_zone") is { } zoneError)
        {
            return ApiErrors.Invalid("time_zone", zoneError);
        }

        if (request.AmountUsd is not { } amount || amount <= 0 || amount >= 100_000_000_000_000m || decimal.Round(amount, 6) != amount)
        {
            return ApiErrors.Invalid("amount_usd", "'amount_usd' is required: a positive amount in USD below 10^14 with at most 6 decimal places.");
        }

        if (request.Thresholds is { } thresholds && (thresholds.Length is 0 or > MaxThresholds || thresholds.Any(t => t is < 1 or > 1000)))
        {
            return ApiErrors.Invalid("thresholds", $"'thresholds' must be 1–{MaxThresholds} percents between 1 and 1000.");
        }

        if (request.Channels is { Length: > MaxChannels })
        {
            return ApiErrors.Invalid("channels", $"At most {MaxChannels} channels.");
        }

        foreach (var channel in request.Channels ?? [])
        {
            if (channel.Kind is not (null or "webhook" or "slack"))
            {
                return ApiErrors.Invalid("channels", "A channel's 'kind' must be 'webhook' or 'slack'.");
            }

            if (WebhookTargets.Problem(channel.Url, webhooks) is { } problem)
            {
                return ApiErrors.Invalid("channels", $"A channel's 'url' {problem}.");
            }
        }

        return null;
    }

    private static int[] DistinctInOrder(int[] thresholds) => [.. thresholds.Distinct().Order()];

    /// <summary>Channels as stored, from validated ones (a missing kind is a webhook).</summary>
    private static List<BudgetChannel> ToChannels(BudgetChannelDto[] channels) =>
        [.. channels.Select(c => new BudgetChannel { Kind = c.Kind ?? "webhook", Url = c.Url! })];

    /// <summary>
    /// A budget's alert history, newest first: each threshold crossed (spend and amount then), and each channel's delivery
    /// with every attempt (status code or error). Channel URLs are not shown (they may carry tokens); their kind is.
    /// </summary>
    private static Task<IResult> AlertsAsync(string tenant, string budget, ControlPlaneDbContext db, CancellationToken ct) =>
        InTenantAsync(db, tenant, ct, async _ =>
        {
            if (await FindAsync(db, budget, ct) is not { } found)
            {
                return ApiErrors.NotFound($"Budget '{budget}'");
            }

            var alerts = await db.BudgetAlerts.Where(a => a.BudgetId == found.Id).OrderByDescending(a => a.CreatedAt).Take(100).ToListAsync(ct);
            var alertIds = alerts.Select(a => a.Id).ToList();
            var deliveries = await db.AlertDeliveries.Where(d => alertIds.Contains(d.AlertId)).ToListAsync(ct);
            var deliveryIds = deliveries.Select(d => d.Id).ToList();
            var attempts = await db.AlertDeliveryAttempts.Where(a => deliveryIds.Contains(a.DeliveryId)).OrderBy(a => a.Attempt).ToListAsync(ct);
            return Results.Ok(new
            {
                alerts = alerts.Select(a => new
                {
                    id = a.Id, period_start = a.PeriodStart, threshold = a.Threshold, spend_usd = Money(a.SpendUsd), amount_usd = Money(a.AmountUsd), created_at = a.CreatedAt,
                    deliveries = deliveries.Where(d => d.AlertId == a.Id).OrderBy(d => d.ChannelIndex).Select(d => new
                    {
                        channel_index = d.ChannelIndex, kind = d.Kind, status = d.Status, attempts = d.Attempts, delivered_at = d.DeliveredAt,
                        next_attempt_at = d.Status == "pending" ? d.NextAttemptAt : (DateTimeOffset?)null,
                        history = attempts.Where(t => t.DeliveryId == d.Id).Select(t => new { attempt = t.Attempt, status_code = t.StatusCode, error = t.Error, at = t.At }),
                    }),
                }),
            });
        });

    private static Task<Budget?> FindAsync(ControlPlaneDbContext db, string budget, CancellationToken ct) =>
        Guid.TryParse(budget, out var id)
            ? db.Budgets.FirstOrDefaultAsync(b => b.Id == id, ct)
            : db.Budgets.FirstOrDefaultAsync(b => b.Name == budget, ct);


    internal static string Money(decimal amount) => (amount / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);
}

public sealed record BudgetScopeDto(string? Kind, string? Value);

public sealed record BudgetChannelDto(string? Kind, string? Url);

/// <summary>A budget to create, or a change to one (PATCH: the fields given replace the stored ones, the others stay).</summary>
public sealed record BudgetRequest(
    string? Name, BudgetScopeDto? Scope, string? Period, string? TimeZone,
    [property: System.Text.Json.Serialization.JsonNumberHandling(System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString)] decimal? AmountUsd,
    int[]? Thresholds, BudgetChannelDto[]? Channels, bool? HardLimit);

/// <summary>A budget; <c>amount_usd</c> is an exact decimal string.</summary>
public sealed record BudgetDto(
    string Id, string Name, BudgetScopeDto Scope, string Period, string TimeZone, string AmountUsd, int[] Thresholds,
    BudgetChannelDto[] Channels, bool HardLimit, DateTimeOffset CreatedAt)
{
    public static BudgetDto From(Budget b) => new(
        b.Id.ToString(), b.Name, new(b.ScopeKind.ToString().ToLowerInvariant(), b.ScopeKind == BudgetScopeKind.Tenant ? null : b.ScopeValue),
        b.Period.ToString().ToLowerInvariant(), b.TimeZone, BudgetsApi.Money(b.AmountUsd), b.Thresholds,
        [.. b.Channels.Select(c => new BudgetChannelDto(c.Kind, c.Url))], b.HardLimit, b.CreatedAt);
}

/// <summary>A budget as created: the only response that carries its webhook signing secret.</summary>
public sealed record BudgetCreatedDto(
    string Id, string Name, BudgetScopeDto Scope, string Period, string TimeZone, string AmountUsd, int[] Thresholds,
    BudgetChannelDto[] Channels, bool HardLimit, DateTimeOffset CreatedAt, string SigningSecret)
{
    public static BudgetCreatedDto From(Budget b)
    {
        var dto = BudgetDto.From(b);
        return new(dto.Id, dto.Name, dto.Scope, dto.Period, dto.TimeZone, dto.AmountUsd, dto.Thresholds, dto.Channels, dto.HardLimit, dto.CreatedAt, b.SigningSecret);
    }
}
