-- Raw usage events, one row per priced (or unpriced) event.
-- ReplacingMergeTree on ingest_version: a row written twice (a replay after a crash) collapses to one;
-- readers of raw rows use FINAL. ORDER BY leads with the tenant so every tenant-scoped query reads only
-- its own granules. The retention TTL is set from configuration after the migrations (Tokage:Analytics:RawRetentionDays).
-- non_replicated_deduplication_window lets a retried insert of the same batch (same insert_deduplication_token)
-- be dropped here and in the rollups the views feed.
CREATE TABLE IF NOT EXISTS usage_events
(
    tenant_id             LowCardinality(String),
    event_id              String,
    event_time            DateTime64(3, 'UTC'),
    ingest_time           DateTime64(3, 'UTC'),
    ingest_version        UInt64,
    source                LowCardinality(String),
    provider              LowCardinality(String),
    model                 LowCardinality(String),
    service_tier          LowCardinality(String),
    application           LowCardinality(String),
    project               LowCardinality(String),
    user_id               String,
    team                  LowCardinality(String),
    environment           LowCardinality(String),
    input_tokens          UInt64,
    cache_read_tokens     UInt64,
    cache_write_tokens    UInt64,
    cache_write_1h_tokens UInt64,
    output_tokens         UInt64,
    reasoning_tokens      UInt64,
    priced                Bool,
    cost_usd              Decimal(38, 18),
    price_version_id      String,
    priced_model          LowCardinality(String),
    classification        LowCardinality(String),
    trace_id              String,
    span_id               String,
    log_position          String,
    metadata              Map(String, String)
)
ENGINE = ReplacingMergeTree(ingest_version)
PARTITION BY toYYYYMM(event_time)
ORDER BY (tenant_id, toDate(event_time), event_id)
SETTINGS non_replicated_deduplication_window = 10000;
