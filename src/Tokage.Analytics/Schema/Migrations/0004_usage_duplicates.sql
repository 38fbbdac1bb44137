-- Records the processor recognised as a repeat of an event it already had (same tenant and event_id, a
-- different log record), with the record they repeat: the audit answer to "why was this one not billed".
CREATE TABLE IF NOT EXISTS usage_duplicates
(
    tenant_id     LowCardinality(String),
    event_id      String,
    received_time DateTime64(3, 'UTC'),
    source        LowCardinality(String),
    log_position  String,
    duplicate_of  String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_time)
ORDER BY (tenant_id, event_id, log_position)
SETTINGS non_replicated_deduplication_window = 10000;

-- Looking one event up by id (event status, the processor's reconciliation after a replay) reads only the
-- granules that may hold it, not the tenant's whole range.
ALTER TABLE usage_events ADD INDEX IF NOT EXISTS event_id_bloom event_id TYPE bloom_filter(0.01) GRANULARITY 4;
