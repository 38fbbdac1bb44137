namespace Tokage.ClickHouseLocal;

/// <summary>Options of the host, bound from the <c>ClickHouseLocal</c> section and the command line.</summary>
public sealed class ClickHouseLocalOptions
{
    public const string SectionName = "ClickHouseLocal";

    /// <summary>chDB's version this host is built and tested against; the cache path carries it.</summary>
    public const string ChdbVersion = "26.5.3";

    public int HttpPort { get; set; } = 8123;

    public string ListenHost { get; set; } = "127.0.0.1";

    public string DataPath { get; set; } = "./.tokage/clickhouse";

    public string User { get; set; } = "default";

    public string Password { get; set; } = "";

    /// <summary>
    /// A second user that may only read (one SELECT-like statement per request, no table function that reaches outside
    /// the database), as a ClickHouse server's <c>readonly = 2</c> user with <c>GRANT SELECT</c>: what the query API
    /// connects as. No password, no such user.
    /// </summary>
    public string ReadOnlyUser { get; set; } = "tokage_reader";

    public string ReadOnlyPassword { get; set; } = "";

    /// <summary>Path of <c>libchdb.so</c>; falls back to <c>TOKAGE_CHDB_LIB</c>, then the set-up cache.</summary>
    public string? ChdbLibrary { get; set; }

    /// <summary>chDB connections on the data path (one statement at a time on each).</summary>
    public int PoolSize { get; set; } = 2;

    /// <summary>Where request bodies of INSERTs are spooled; defaults to /dev/shm, else the temp directory.</summary>
    public string? SpoolPath { get; set; }

    /// <summary>Exposes <c>/__test/*</c> endpoints; for the host's own tests only.</summary>
    public bool EnableTestEndpoints { get; set; }
}
