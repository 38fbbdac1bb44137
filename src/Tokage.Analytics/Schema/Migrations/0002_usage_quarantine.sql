-- Records the processor could not store as usage (undecodable, unknown schema version, failed validation
-- after ingest), with the reason and the original payload, so nothing is dropped silently.
CREATE TABLE IF NOT EXISTS usage_quarantine
(
    tenant_id     LowCardinality(String),
    event_id      String,
    received_time DateTime64(3, 'UTC'),
    source        LowCardinality(String),
    reason        LowCardinality(String),
    detail        String,
    payload       String,
    log_position  String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_time)
ORDER BY (tenant_id, received_time, event_id)
SETTINGS non_replicated_deduplication_window = 10000;
