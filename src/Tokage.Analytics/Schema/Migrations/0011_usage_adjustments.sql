-- Adjustments: what a repricing (a corrected price version, or a price that arrived for events stored unpriced)
-- found an event should cost beyond what it was charged. Raw rows keep what was charged then; an adjustment row
-- carries the difference (and the cost it leads to), one per (event, repricing), written by the price registry.
-- ReplacingMergeTree on the key, so a row written twice reads once with FINAL; the writer skips events a repricing
-- already adjusted, and a retried insert of the same page is dropped by its deduplication token, so the rollups
-- (which count every inserted row) stay exact.
CREATE TABLE IF NOT EXISTS usage_adjustments
(
    tenant_id             LowCardinality(String),
    event_id              String,
    repricing_id          UInt64,
    event_time            DateTime64(3, 'UTC'),
    adjusted_at           DateTime64(3, 'UTC'),
    provider              LowCardinality(String),
    model                 LowCardinality(String),
    application           LowCardinality(String),
    project               LowCardinality(String),
    user_id               String,
    team                  LowCardinality(String),
    environment           LowCardinality(String),
    customer              String,
    price_version_id      String,
    cost_usd              Decimal(38, 18),
    adjustment_usd        Decimal(38, 18)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (tenant_id, event_id, repricing_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Every rollup sums the adjustments of its events beside what they were charged; rows before this read 0.
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS adjustments_usd Decimal(38, 18) DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS adjustments_usd Decimal(38, 18) DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS adjustments_usd Decimal(38, 18) DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS adjustments_usd Decimal(38, 18) DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS adjustments_usd Decimal(38, 18) DEFAULT 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_hourly_adjustments_mv TO usage_hourly AS
SELECT
    tenant_id,
    toStartOfHour(event_time) AS hour,
    provider, model, application, project, user_id, team, environment,
    sum(adjustment_usd) AS adjustments_usd
FROM usage_adjustments
GROUP BY tenant_id, hour, provider, model, application, project, user_id, team, environment;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_daily_adjustments_mv TO usage_daily AS
SELECT
    tenant_id,
    toDate(event_time) AS day,
    provider, model, application, project, user_id, team, environment,
    sum(adjustment_usd) AS adjustments_usd
FROM usage_adjustments
GROUP BY tenant_id, day, provider, model, application, project, user_id, team, environment;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_daily_compact_adjustments_mv TO usage_daily_compact AS
SELECT
    tenant_id,
    toDate(event_time) AS day,
    provider, model, application, project, team, environment,
    sum(adjustment_usd) AS adjustments_usd
FROM usage_adjustments
GROUP BY tenant_id, day, provider, model, application, project, team, environment;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_daily_user_adjustments_mv TO usage_daily_user AS
SELECT
    tenant_id,
    toDate(event_time) AS day,
    user_id,
    sum(adjustment_usd) AS adjustments_usd
FROM usage_adjustments
GROUP BY tenant_id, day, user_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_hourly_customer_adjustments_mv TO usage_hourly_customer AS
SELECT
    tenant_id,
    toStartOfHour(event_time) AS hour,
    customer, provider, model, application,
    sum(adjustment_usd) AS adjustments_usd
FROM usage_adjustments
GROUP BY tenant_id, hour, customer, provider, model, application;
