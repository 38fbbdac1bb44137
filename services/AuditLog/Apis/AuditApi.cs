using System.Globalization;
using System.Text.Json.Nodes;
using Npgsql;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.AuditLog.Audit;
using Tokage.Integrations;

namespace Tokage.AuditLog.Apis;

/// <summary>
/// Reading and verifying the audit log; nothing here writes (the records come from the outbox only). A tenant's admins
/// (a key with <c>admin</c>, an admin's or owner's session) see their own tenant's chain; the operator (the admin token)
/// every chain, or one with <c>?tenant=</c> (<c>platform</c>: the changes of no tenant, such as public prices).
/// </summary>
public static class AuditApi
{
    public const int DefaultPageSize = 100;
    public const int MaxPageSize = 1_000;

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        var audit = app.MapGroup("/v1/audit").WithTags("Audit");
        audit.MapGet("/", ListAsync).WithName("ListAuditRecords").WithSummary("Audit records, oldest (or newest) first, in cursor pages.");
        audit.MapGet("/verify", VerifyAsync).WithName("VerifyAuditLog").WithSummary("Recomputes the hash chains and names the first broken link.");
        return app;
    }

    /// <summary><c>GET /v1/audit?from=&amp;to=&amp;actor=&amp;kind=&amp;order=&amp;cursor=&amp;limit=</c> (oldest first unless <c>order=newest</c>).</summary>
    private static async Task<IResult> ListAsync(HttpContext http, NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        var (caller, refusal) = await AuditCaller.ResolveAsync(http);
        if (refusal is not null)
        {
            return refusal;
        }

        var query = http.Request.Query;
        var conditions = new List<string> { "true" };
        var parameters = new List<NpgsqlParameter>();
        if (caller!.Tenant is { } tenant)
        {
            conditions.Add("tenant_id = @tenant");
            parameters.Add(new NpgsqlParameter("tenant", tenant));
        }

        foreach (var (name, op) in new[] { ("from", ">="), ("to", "<") })
        {
            if (query[name].ToString() is { Length: > 0 } text)
            {
                if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                {
                    return Invalid(name, $"'{name}' must be an ISO 8601 time such as 2026-12-01T00:00:00Z.");
                }

                conditions.Add($"occurred_at {op} @{name}");
                parameters.Add(new NpgsqlParameter(name, at.ToUniversalTime()));
            }
        }

        if (query["actor"].ToString() is { Length: > 0 } actor)
        {
            // A member's or key's id, or a kind of actor (member, key, operator, service).
            conditions.Add("(actor_id = @actor OR actor_type = @actor)");
            parameters.Add(new NpgsqlParameter("actor", actor));
        }

        if (query["kind"].ToString() is { Length: > 0 } kind)
        {
            // 'key.revoked', or 'key' for every kind of key change.
            conditions.Add("(kind = @kind OR kind LIKE @kind_prefix)");
            parameters.Add(new NpgsqlParameter("kind", kind));
            parameters.Add(new NpgsqlParameter("kind_prefix", kind.Replace("%", "", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + ".%"));
        }

        var order = query["order"].ToString();
        if (order is not ("" or "oldest" or "newest"))
        {
            return Invalid("order", "'order' is 'oldest' (the default) or 'newest'.");
        }

        var newestFirst = order == "newest";
        if (query["cursor"].ToString() is { Length: > 0 } cursorText)
        {
            if (!long.TryParse(cursorText, NumberStyles.None, CultureInfo.InvariantCulture, out var cursor))
            {
                return Invalid("cursor", "'cursor' must be a 'next_cursor' this API returned.");
            }

            conditions.Add(newestFirst ? "id < @cursor" : "id > @cursor");
            parameters.Add(new NpgsqlParameter("cursor", cursor));
        }

        var limit = DefaultPageSize;
        if (query["limit"].ToString() is { Length: > 0 } limitText
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxPageSize))
        {
            return Invalid("limit", $"'limit' must be between 1 and {MaxPageSize}.");
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var records = await AuditRecords.ReadAsync(connection, null, $"{string.Join(" AND ", conditions)} ORDER BY id {(newestFirst ? "DESC" : "ASC")} LIMIT {limit + 1}",
            command => command.Parameters.AddRange(parameters.ToArray()), cancellationToken);
        var page = records.Take(limit).Select(r =>
        {
            var json = r.ToJson();
            json.Remove("type");
            return (JsonNode)json;
        });
        return TypedResults.Ok(new JsonObject
        {
            ["records"] = new JsonArray([.. page]),
            ["next_cursor"] = records.Count > limit ? records[limit - 1].Id.ToString(CultureInfo.InvariantCulture) : null,
        });
    }

    /// <summary><c>GET /v1/audit/verify</c>: the caller's chain (the operator: every chain) and the global chain, from the database.</summary>
    private static async Task<IResult> VerifyAsync(HttpContext http, NpgsqlDataSource database, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (caller, refusal) = await AuditCaller.ResolveAsync(http);
        if (refusal is not null)
        {
            return refusal;
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var records = caller!.Tenant is { } tenant
            ? await AuditRecords.ReadAsync(connection, transaction, "tenant_id = @tenant ORDER BY seq", c => c.Parameters.AddWithValue("tenant", tenant), cancellationToken)
            : await AuditRecords.ReadAsync(connection, transaction, "true ORDER BY tenant_id, seq", _ => { }, cancellationToken);
        var heads = await AuditRecords.ReadHeadsAsync(connection, transaction, "true ORDER BY seq", _ => { }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        var verification = AuditVerifier.Verify(records, heads);
        if (verification.FirstBreak is { } broken)
        {
            loggers.CreateLogger("Tokage.AuditLog.Verify").LogError("The audit log does not verify: {Chain} at {Seq}: {Reason}", broken.Chain, broken.Seq, broken.Reason);
            if (!caller.IsOperator && broken.Chain == AuditVerifier.GlobalChain)
            {
                // The global chain names other tenants; a tenant learns only that it is broken (the operator sees where).
                verification = verification with { FirstBreak = broken with { Reason = $"global link {broken.Seq} does not hold; the operator can see why." } };
            }
        }

        return TypedResults.Ok(verification.ToJson());
    }

    private static IResult Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: "Invalid request");
}

/// <summary>Whose records a request reads: one tenant's (its admins), or — for the operator — one named or all (null).</summary>
internal sealed record AuditCaller(bool IsOperator, Guid? Tenant)
{
    public static async Task<(AuditCaller? Caller, IResult? Refusal)> ResolveAsync(HttpContext http)
    {
        var named = http.Request.Query["tenant"].ToString();
        var admin = http.RequestServices.GetRequiredService<AdminToken>();
        if (admin.Accepts(http.Request.Headers.Authorization.FirstOrDefault()))
        {
            return named switch
            {
                "" => (new AuditCaller(true, null), null),
                "platform" => (new AuditCaller(true, AuditRecord.Platform), null),
                _ when Guid.TryParse(named, out var tenant) => (new AuditCaller(true, tenant), null),
                _ => (null, TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["tenant"] = ["'tenant' must be a tenant id or 'platform'."] })),
            };
        }

        var keys = http.RequestServices.GetRequiredService<IApiKeyResolver>();
        var (own, refusal) = await TenantCaller.TenantAsync(http, keys, ApiKeyScopes.Admin);
        if (refusal is not null)
        {
            return (null, refusal);
        }

        if (named.Length > 0 && named != own)
        {
            return (null, TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found", detail: $"Tenant '{named}' does not exist."));
        }

        return (new AuditCaller(false, Guid.Parse(own!)), null);
    }
}
