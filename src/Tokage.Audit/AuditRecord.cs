using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tokage.Audit;

/// <summary>
/// One recorded change, a link in its tenant's chain (<see cref="Platform"/>: changes of no tenant, such as public
/// prices). <see cref="Hash"/> is SHA-256 over the canonical JSON of every other field, <see cref="PrevHash"/>
/// included, so editing, removing or moving a record breaks the chain there. <see cref="Id"/> is the record's place in
/// the database only and is not hashed.
/// </summary>
public sealed record AuditRecord(
    long Id,
    Guid TenantId,
    long Seq,
    Guid OutboxId,
    DateTimeOffset OccurredAt,
    DateTimeOffset RecordedAt,
    string Kind,
    string Subject,
    AuditActor Actor,
    JsonElement? Before,
    JsonElement? After,
    string PrevHash,
    string Hash)
{
    /// <summary>The chain of changes that belong to no tenant (public price versions and corrections).</summary>
    public static readonly Guid Platform = Guid.Empty;

    /// <summary>What the first record of a chain links to.</summary>
    public static readonly string Genesis = new('0', 64);

    public string ComputeHash() => AuditHashing.Sha256Hex(CanonicalJson.Of(HashedMembers()));

    /// <summary>This record with its chain position and hash filled in.</summary>
    public AuditRecord Chained(long seq, string prevHash)
    {
        var linked = this with { Seq = seq, PrevHash = prevHash, Hash = "" };
        return linked with { Hash = linked.ComputeHash() };
    }

    private IEnumerable<KeyValuePair<string, JsonElement?>> HashedMembers()
    {
        yield return new("tenant_id", CanonicalJson.Element(TenantId.ToString()));
        yield return new("seq", CanonicalJson.Element(Seq));
        yield return new("outbox_id", CanonicalJson.Element(OutboxId.ToString()));
        yield return new("occurred_at", CanonicalJson.Element(AuditHashing.Timestamp(OccurredAt)));
        yield return new("recorded_at", CanonicalJson.Element(AuditHashing.Timestamp(RecordedAt)));
        yield return new("kind", CanonicalJson.Element(Kind));
        yield return new("subject", CanonicalJson.Element(Subject));
        yield return new("actor_type", CanonicalJson.Element(Actor.Type));
        yield return new("actor_id", CanonicalJson.Element(Actor.Id));
        yield return new("actor_address", Actor.Address is null ? null : CanonicalJson.Element(Actor.Address));
        yield return new("actor_user_agent", Actor.UserAgent is null ? null : CanonicalJson.Element(Actor.UserAgent));
        yield return new("before", Before);
        yield return new("after", After);
        yield return new("prev_hash", CanonicalJson.Element(PrevHash));
    }

    /// <summary>The record as a sealed segment's line (and the audit API's item): every field, the hash and id included.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["type"] = "record", ["id"] = Id };
        foreach (var (name, value) in HashedMembers())
        {
            json[name] = value is { } element ? JsonNode.Parse(element.GetRawText()) : null;
        }

        json["hash"] = Hash;
        return json;
    }

    public static AuditRecord FromJson(JsonElement json) => new(
        json.GetProperty("id").GetInt64(),
        Guid.Parse(json.GetProperty("tenant_id").GetString()!),
        json.GetProperty("seq").GetInt64(),
        Guid.Parse(json.GetProperty("outbox_id").GetString()!),
        AuditHashing.ParseTimestamp(json.GetProperty("occurred_at").GetString()!),
        AuditHashing.ParseTimestamp(json.GetProperty("recorded_at").GetString()!),
        json.GetProperty("kind").GetString()!,
        json.GetProperty("subject").GetString()!,
        new AuditActor(
            json.GetProperty("actor_type").GetString()!,
            json.GetProperty("actor_id").GetString()!,
            OptionalString(json, "actor_address"),
            OptionalString(json, "actor_user_agent")),
        OptionalValue(json, "before"),
        OptionalValue(json, "after"),
        json.GetProperty("prev_hash").GetString()!,
        json.GetProperty("hash").GetString()!);

    internal static string? OptionalString(JsonElement json, string name) =>
        json.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static JsonElement? OptionalValue(JsonElement json, string name) =>
        json.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value.Clone() : null;
}

/// <summary>
/// A link of the global chain: it anchors one tenant chain's head (its seq and hash) after a drain appended to it, so
/// cutting records off a chain's end, which its own links cannot show, breaks the global chain's anchor.
/// </summary>
public sealed record AuditHead(long Seq, Guid TenantId, long ChainSeq, string ChainHash, DateTimeOffset RecordedAt, string PrevHash, string Hash)
{
    public string ComputeHash() => AuditHashing.Sha256Hex(CanonicalJson.Of(HashedMembers()));

    public AuditHead Chained(long seq, string prevHash)
    {
        var linked = this with { Seq = seq, PrevHash = prevHash, Hash = "" };
        return linked with { Hash = linked.ComputeHash() };
    }

    private IEnumerable<KeyValuePair<string, JsonElement?>> HashedMembers()
    {
        yield return new("seq", CanonicalJson.Element(Seq));
        yield return new("tenant_id", CanonicalJson.Element(TenantId.ToString()));
        yield return new("chain_seq", CanonicalJson.Element(ChainSeq));
        yield return new("chain_hash", CanonicalJson.Element(ChainHash));
        yield return new("recorded_at", CanonicalJson.Element(AuditHashing.Timestamp(RecordedAt)));
        yield return new("prev_hash", CanonicalJson.Element(PrevHash));
    }

    public JsonObject ToJson()
    {
        var json = new JsonObject { ["type"] = "head" };
        foreach (var (name, value) in HashedMembers())
        {
            json[name] = JsonNode.Parse(value!.Value.GetRawText());
        }

        json["hash"] = Hash;
        return json;
    }

    public static AuditHead FromJson(JsonElement json) => new(
        json.GetProperty("seq").GetInt64(),
        Guid.Parse(json.GetProperty("tenant_id").GetString()!),
        json.GetProperty("chain_seq").GetInt64(),
        json.GetProperty("chain_hash").GetString()!,
        AuditHashing.ParseTimestamp(json.GetProperty("recorded_at").GetString()!),
        json.GetProperty("prev_hash").GetString()!,
        json.GetProperty("hash").GetString()!);
}

public static class AuditHashing
{
    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>UTC to the microsecond: what PostgreSQL keeps, so a time reads back as it was hashed.</summary>
    public static string Timestamp(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    public static DateTimeOffset ParseTimestamp(string text) =>
        DateTimeOffset.ParseExact(text, "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    /// <summary>A time cut to the microsecond, as PostgreSQL stores it.</summary>
    public static DateTimeOffset ToMicroseconds(DateTimeOffset time) => new(time.UtcTicks - time.UtcTicks % 10, TimeSpan.Zero);
}
