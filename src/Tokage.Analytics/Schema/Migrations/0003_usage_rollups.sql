-- Hourly and daily (UTC) rollups, keyed tenant first by every dimension a breakdown groups by.
-- SummingMergeTree adds rows of the same key on merge; readers still sum() because merges are lazy.
-- Fed by materialized views at insert time; their own deduplication window drops the rollup block of an
-- insert the raw table dropped as a retry (deduplicate_blocks_in_dependent_materialized_views).
CREATE TABLE IF NOT EXISTS usage_hourly
(
    tenant_id             LowCardinality(String),
    hour                  DateTime('UTC'),
    provider              LowCardinality(String),
    model                 LowCardinality(String),
    application           LowCardinality(String),
    project               LowCardinality(String),
    user_id               String,
    team                  LowCardinality(String),
    environment           LowCardinality(String),
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
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, hour, provider, model, application, project, team, user_id, environment)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS usage_daily
(
    tenant_id             LowCardinality(String),
    day                   Date,
    provider              LowCardinality(String),
    model                 LowCardinality(String),
    application           LowCardinality(String),
    project               LowCardinality(String),
    user_id               String,
    team                  LowCardinality(String),
    environment           LowCardinality(String),
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
ORDER BY (tenant_id, day, provider, model, application, project, team, user_id, environment)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_hourly_mv TO usage_hourly AS
SELECT
    tenant_id,
    toStartOfHour(event_time) AS hour,
    provider, model, application, project, user_id, team, environment,
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
GROUP BY tenant_id, hour, provider, model, application, project, user_id, team, environment;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_daily_mv TO usage_daily AS
SELECT
    tenant_id,
    toDate(event_time) AS day,
    provider, model, application, project, user_id, team, environment,
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
GROUP BY tenant_id, day, provider, model, application, project, user_id, team, environment;
