-- The daily rollup without user_id. Users are the one dimension with thousands of values per tenant, so the
-- full daily rollup holds nearly a row per event; this one holds a row per (day, provider, model, application,
-- project, team, environment) and answers every breakdown that neither groups nor filters by user.
CREATE TABLE IF NOT EXISTS usage_daily_compact
(
    tenant_id             LowCardinality(String),
    day                   Date,
    provider              LowCardinality(String),
    model                 LowCardinality(String),
    application           LowCardinality(String),
    project               LowCardinality(String),
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
ORDER BY (tenant_id, day, provider, model, application, project, team, environment)
SETTINGS non_replicated_deduplication_window = 10000;

-- Backfill from the full daily rollup once, while the table is still empty (a rerun after a cut-off step
-- skips it). The processor migrates before it consumes, so no insert falls between this and the view below.
INSERT INTO usage_daily_compact
SELECT
    tenant_id, day, provider, model, application, project, team, environment,
    sum(events), sum(unpriced_events), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
    sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(cost_usd)
FROM usage_daily
WHERE (SELECT count() FROM usage_daily_compact) = 0
GROUP BY tenant_id, day, provider, model, application, project, team, environment;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_daily_compact_mv TO usage_daily_compact AS
SELECT
    tenant_id,
    toDate(event_time) AS day,
    provider, model, application, project, team, environment,
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
GROUP BY tenant_id, day, provider, model, application, project, team, environment;
