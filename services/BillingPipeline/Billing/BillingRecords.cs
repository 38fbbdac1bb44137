using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Tokage.Billing.Invoices;
using Tokage.Billing.Plans;

namespace Tokage.BillingPipeline.Billing;

public sealed record CustomerRecord(
    Guid Id, string ExternalId, IReadOnlyList<string> Aliases, string Name, string Email, string TimeZone, string StripeCustomerId,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    /// <summary>Every id events may name this customer by.</summary>
    public IEnumerable<string> Ids => Aliases.Prepend(ExternalId);

    public JsonObject ToJson() => new()
    {
        ["id"] = Id.ToString(), ["external_id"] = ExternalId, ["aliases"] = new JsonArray([.. Aliases.Select(a => (JsonNode)a)]),
        ["name"] = Name, ["email"] = Email, ["time_zone"] = TimeZone, ["stripe_customer_id"] = StripeCustomerId,
        ["created_at"] = CreatedAt.ToString("O"), ["updated_at"] = UpdatedAt.ToString("O"),
    };
}

public sealed record PlanVersionRecord(Guid Id, Guid PlanId, string Key, string Name, int Version, PlanDefinition Definition, DateTimeOffset CreatedAt)
{
    public JsonObject ToJson()
    {
        var json = PlanJson.Write(Definition);
        json["key"] = Key;
        json["name"] = Name;
        json["version"] = Version;
        json["created_at"] = CreatedAt.ToString("O");
        return json;
    }
}

public sealed record SubscriptionRecord(
    Guid Id, Guid CustomerId, Guid PlanVersionId, DateOnly StartDate, DateOnly? EndDate, int AnchorDay, Guid? NextPlanVersionId, DateOnly? NextFrom,
    DateTimeOffset CreatedAt)
{
    public BillingSchedule Schedule(TimeZoneInfo zone) => new(StartDate, AnchorDay, zone, EndDate);

    /// <summary>The plan version that prices the period starting on <paramref name="periodStart"/>.</summary>
    public Guid PlanVersionFor(DateOnly periodStart) =>
        NextPlanVersionId is { } next && NextFrom is { } from && periodStart >= from ? next : PlanVersionId;
}

/// <summary>The billing tables' rows, read and written with SQL in the caller's tenant transaction (RLS scopes every statement).</summary>
public static class BillingRecords
{
    private const string CustomerColumns =
        "c.id, c.external_id, coalesce((SELECT array_agg(a.value ORDER BY a.value) FROM customer_ids a WHERE a.customer_id = c.id AND a.is_alias), '{}'), " +
        "c.name, c.email, c.time_zone, c.stripe_customer_id, c.created_at, c.updated_at";

    public static async Task<List<CustomerRecord>> CustomersAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct, Guid? only = null) =>
        await ReadAsync(connection, transaction,
            $"SELECT {CustomerColumns} FROM customers c " + (only is null ? "" : "WHERE c.id = @id ") + "ORDER BY c.external_id",
            ReadCustomer, ct, only is null ? [] : [("id", only.Value)]);

    /// <summary>A customer by its external id or one of its aliases.</summary>
    public static async Task<CustomerRecord?> CustomerAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string id, CancellationToken ct) =>
        (await ReadAsync(connection, transaction,
            $"SELECT {CustomerColumns} FROM customer_ids i JOIN customers c ON c.id = i.customer_id WHERE i.value = @id",
            ReadCustomer, ct, ("id", id))).FirstOrDefault();

    public static async Task<List<PlanVersionRecord>> PlanVersionsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct, string? key = null) =>
        await ReadAsync(connection, transaction,
            "SELECT v.id, p.id, p.key, p.name, v.version, v.definition::text, v.created_at FROM plan_versions v JOIN plans p ON p.id = v.plan_id " +
            (key is null ? "" : "WHERE p.key = @key ") + "ORDER BY p.key, v.version",
            reader => new PlanVersionRecord(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                ParsePlan(reader.GetString(5)), reader.GetFieldValue<DateTimeOffset>(6)),
            ct, key is null ? [] : [("key", key)]);

    public static async Task<List<SubscriptionRecord>> SubscriptionsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct, Guid? customer = null) =>
        await ReadAsync(connection, transaction,
            "SELECT id, customer_id, plan_version_id, start_date, end_date, anchor_day, next_plan_version_id, next_from, created_at FROM subscriptions " +
            (customer is null ? "" : "WHERE customer_id = @customer ") + "ORDER BY customer_id, start_date",
            reader => new SubscriptionRecord(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetFieldValue<DateOnly>(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateOnly>(4), reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetGuid(6),
                reader.IsDBNull(7) ? null : reader.GetFieldValue<DateOnly>(7), reader.GetFieldValue<DateTimeOffset>(8)),
            ct, customer is null ? [] : [("customer", customer.Value)]);

    public static PlanDefinition ParsePlan(string json)
    {
        var errors = new Dictionary<string, string[]>();
        using var document = JsonDocument.Parse(json);
        return PlanJson.Read(document.RootElement, errors)
            ?? throw new InvalidOperationException($"A stored plan version does not read back: {string.Join("; ", errors.Select(e => $"{e.Key}: {e.Value[0]}"))}");
    }

    private static CustomerRecord ReadCustomer(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetString(1), reader.GetFieldValue<string[]>(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
        reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(7), reader.GetFieldValue<DateTimeOffset>(8));

    public static async Task<List<T>> ReadAsync<T>(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, Func<NpgsqlDataReader, T> read, CancellationToken ct,
        params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<T>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    public static async Task<int> ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken ct, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>One statement of an <see cref="NpgsqlBatch"/>: many writes in one round trip.</summary>
    public static NpgsqlBatchCommand BatchCommand(string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }

    /// <summary>The tenants whose budgets and bills are kept: the one read across tenants (the tenants table has no tenant scope).</summary>
    public static async Task<List<Guid>> ActiveTenantsAsync(NpgsqlDataSource database, CancellationToken ct)
    {
        await using var command = database.CreateCommand("SELECT id FROM tenants WHERE status = 'Active' ORDER BY id");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var tenants = new List<Guid>();
        while (await reader.ReadAsync(ct))
        {
            tenants.Add(reader.GetGuid(0));
        }

        return tenants;
    }

    public static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }
}
