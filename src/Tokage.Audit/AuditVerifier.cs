using System.Text.Json.Nodes;

namespace Tokage.Audit;

/// <summary>Where a chain stops being what was recorded: the chain (a tenant, or the global chain), the link and why.</summary>
public sealed record AuditBreak(string Chain, long Seq, long? RecordId, string Reason);

public sealed record AuditVerification(bool Valid, long Records, int Chains, long Heads, AuditBreak? FirstBreak)
{
    /// <summary>As the API answers and <c>tokage audit verify --json</c> prints it.</summary>
    public JsonObject ToJson() => new()
    {
        ["valid"] = Valid,
        ["records"] = Records,
        ["chains"] = Chains,
        ["links"] = Heads,
        ["first_break"] = FirstBreak is { } b
            ? new JsonObject { ["chain"] = b.Chain, ["seq"] = b.Seq, ["record_id"] = b.RecordId, ["reason"] = b.Reason }
            : null,
    };
}

/// <summary>
/// Recomputes the chains from the records alone (from the database or from sealed objects) and reports the first link
/// that does not hold: a record whose content no longer matches its hash (edited), a missing seq (deleted), a record
/// that does not link to the one before it (moved), a global link that does not anchor what its chain holds (cut).
/// </summary>
public static class AuditVerifier
{
    public const string GlobalChain = "global";

    /// <param name="records">Each chain's records in the order they are stored (by seq in the database, by line in an object).</param>
    /// <param name="heads">The global chain's links in order. Links of tenants without records here are checked as links only.</param>
    public static AuditVerification Verify(IEnumerable<AuditRecord> records, IEnumerable<AuditHead> heads)
    {
        var chains = new Dictionary<Guid, ChainState>();
        long recordCount = 0;
        AuditBreak? first = null;
        foreach (var record in records)
        {
            recordCount++;
            if (!chains.TryGetValue(record.TenantId, out var chain))
            {
                chains[record.TenantId] = chain = new ChainState();
            }

            if (chain.Broken)
            {
                continue;
            }

            var name = ChainName(record.TenantId);
            var problem = record.Seq != chain.LastSeq + 1
                ? record.Seq > chain.LastSeq + 1
                    ? $"record {chain.LastSeq + 1} is missing (the chain goes from {chain.LastSeq} to {record.Seq})"
                    : $"record {record.Seq} is out of place (after record {chain.LastSeq})"
                : record.PrevHash != chain.LastHash
                    ? $"record {record.Seq} does not link to record {chain.LastSeq} (a record before it was changed, removed or moved)"
                    : record.ComputeHash() != record.Hash
                        ? $"record {record.Seq}'s content does not match its hash (it was edited)"
                        : null;
            if (problem is not null)
            {
                chain.Broken = true;
                first ??= new AuditBreak(name, Math.Min(record.Seq, chain.LastSeq + 1), record.Id, problem);
                continue;
            }

            chain.Hashes[record.Seq] = record.Hash;
            (chain.LastSeq, chain.LastHash) = (record.Seq, record.Hash);
        }

        long headCount = 0;
        var lastHash = AuditRecord.Genesis;
        var anchored = new Dictionary<Guid, long>();
        foreach (var head in heads)
        {
            headCount++;
            if (first is not null && first.Chain == GlobalChain)
            {
                continue;
            }

            var problem = head.Seq != headCount
                ? $"global link {headCount} is missing or out of place (found link {head.Seq})"
                : head.PrevHash != lastHash
                    ? $"global link {head.Seq} does not link to link {head.Seq - 1}"
                    : head.ComputeHash() != head.Hash
                        ? $"global link {head.Seq}'s content does not match its hash (it was edited)"
                        : null;
            if (problem is null && chains.TryGetValue(head.TenantId, out var chain) && !chain.Broken)
            {
                problem = !chain.Hashes.TryGetValue(head.ChainSeq, out var held)
                    ? $"global link {head.Seq} anchors record {head.ChainSeq} of chain {ChainName(head.TenantId)}, which is missing (records were cut off its end)"
                    : held != head.ChainHash
                        ? $"global link {head.Seq} anchors a record {head.ChainSeq} of chain {ChainName(head.TenantId)} other than the one there now"
                        : null;
            }

            if (problem is not null)
            {
                first ??= new AuditBreak(GlobalChain, head.Seq, null, problem);
                continue;
            }

            lastHash = head.Hash;
            anchored[head.TenantId] = head.ChainSeq;
        }

        // Every record is anchored by the drain that appended it (same transaction, same sealed segment).
        foreach (var (tenant, chain) in chains)
        {
            if (!chain.Broken && first is null && anchored.GetValueOrDefault(tenant) != chain.LastSeq)
            {
                first = new AuditBreak(ChainName(tenant), chain.LastSeq, null,
                    $"the global chain anchors chain {ChainName(tenant)} at record {anchored.GetValueOrDefault(tenant)}, but it ends at record {chain.LastSeq}");
            }
        }

        return new AuditVerification(first is null, recordCount, chains.Count, headCount, first);
    }

    public static string ChainName(Guid tenant) => tenant == AuditRecord.Platform ? "platform" : tenant.ToString();

    private sealed class ChainState
    {
        public long LastSeq;
        public string LastHash = AuditRecord.Genesis;
        public bool Broken;
        public readonly Dictionary<long, string> Hashes = [];
    }
}
