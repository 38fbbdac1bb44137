-- The daily rollup by user alone. The full daily rollup is keyed by user *and* every other dimension, so a
-- breakdown by user reads nearly a row per event from it; this one holds a row per (day, user) and answers every
-- breakdown that groups by user (and day) and filters by user only: "who spent what", a user's budget.
CREATE TABLE IF NOT EXISTS usage_daily_user
(
    tenant_id             LowCardinality(String),
    day                   Date,
    user_id               String,
    events                UInt64,
    unpriced_events       UInt64,
    input_tokens          UInt64,
    cache_read_tokens     UInt64,
    cache_write_tokens    UInt64,
    cache_write_1h_tokens UInt64,
    output_tokens         UInt64,
    reasoning_tokens      UInt64,
    cost_usd              Decimal(38, 18)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, user_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Backfill from the full daily rollup once, while the table is still empty (as in 0005).
INSERT INTO usage_daily_user
SELECT
    tenant_id, day, user_id,
    sum(events), sum(unpriced_events), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
    sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(cost_usd)
FROM usage_daily
WHERE (SELECT count() FROM usage_daily_user) = 0
GROUP BY tenant_id, day, user_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_daily_user_mv TO usage_daily_user AS
SELECT
    tenant_id,
    toDate(event_time) AS day,
    user_id,
    count() AS events,
    countIf(NOT priced) AS unpriced_events,
    sum(input_tokens) AS input_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(cache_write_1h_tokens) AS cache_write_1h_tokens,
    sum(output_tokens) AS output_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd
FROM usage_events
GROUP BY tenant_id, day, user_id;
