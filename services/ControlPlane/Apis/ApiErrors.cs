using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Tokage.ControlPlane.Data;

namespace Tokage.ControlPlane.Apis;

/// <summary>The admin API's answers for bad input, and the checks that produce them.</summary>
internal static partial class ApiErrors
{
    public static IResult Invalid(string field, string message) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: "Invalid request");

    public static IResult NotFound(string what) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found", detail: $"{what} does not exist.");

    public static IResult Conflict(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail);

    /// <summary>Names of tenants, teams and projects: what events carry and the CLI types.</summary>
    public static string? CheckName(string? name, string field)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return $"'{field}' is required.";
        }

        return NamePattern().IsMatch(name) ? null : $"'{field}' must be 1–100 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit.";
    }

    public static string? CheckRateLimit(RateLimitDto? limit) => limit switch
    {
        null => null,
        { EventsPerSecond: < 1 or > 1_000_000 } => "'rate_limit.events_per_second' must be between 1 and 1000000.",
        { Burst: var b, EventsPerSecond: var s } when b < s => "'rate_limit.burst' must be at least 'rate_limit.events_per_second'.",
        _ => null,
    };

    public static bool IsUniqueViolation(DbUpdateException ex) => ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    /// <summary>Null for an IANA time zone such as 'Europe/Berlin' (IANA only, so it means the same on every host); else the message.</summary>
    public static string? CheckTimeZone(string zone, string field) =>
        TimeZoneInfo.TryFindSystemTimeZoneById(zone, out var found) && found.HasIanaId
            ? null
            : $"'{field}' must be an IANA time zone such as 'Europe/Berlin'; '{zone}' is not one.";

    /// <summary>A tenant by id or by name.</summary>
    public static Task<Tenant?> FindTenantAsync(this ControlPlaneDbContext db, string tenant, CancellationToken cancellationToken) =>
        Guid.TryParse(tenant, out var id)
            ? db.Tenants.FirstOrDefaultAsync(t => t.Id == id, cancellationToken)
            : db.Tenants.FirstOrDefaultAsync(t => t.Name == tenant, cancellationToken);

    /// <summary>Runs <paramref name="work"/> for the named tenant inside its RLS scope; 404 when there is no such tenant.</summary>
    internal static async Task<IResult> InTenantAsync(ControlPlaneDbContext db, string tenant, CancellationToken ct, Func<Tenant, Task<IResult>> work)
    {
        if (await db.FindTenantAsync(tenant, ct) is not { } found)
        {
            return NotFound($"Tenant '{tenant}'");
        }

        await using var transaction = await db.BeginTenantScopeAsync(found.Id, ct);
        var result = await work(found);
        await transaction.CommitAsync(ct);
        return result;
    }

    internal static Task<IResult> InTenantAsync(ControlPlaneDbContext db, string tenant, CancellationToken ct, Func<Task<IResult>> work) =>
        InTenantAsync(db, tenant, ct, _ => work());

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,99}$")]
    private static partial Regex NamePattern();
}
