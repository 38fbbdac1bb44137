-- The tenant's own customer an event names (native field `customer`, OTLP `tokage.customer`): billing rates
-- usage per customer. Rows stored before this column read as '' (unassigned).
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS customer String DEFAULT '' AFTER environment;

-- The hourly rollup by customer and the dimensions plan charges filter on. Hourly so an invoice period that
-- starts at midnight in the customer's zone (any whole-hour offset) is answered exactly from it.
CREATE TABLE IF NOT EXISTS usage_hourly_customer
(
    tenant_id             LowCardinality(String),
    hour                  DateTime('UTC'),
    customer              String,
    provider              LowCardinality(String),
    model                 LowCardinality(String),
    application           LowCardinality(String),
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
ORDER BY (tenant_id, customer, hour, provider, model, application)
SETTINGS non_replicated_deduplication_window = 10000;

-- Backfill once from the hourly rollup (every earlier row is unassigned), while the table is still empty (as in 0005).
INSERT INTO usage_hourly_customer
SELECT
    tenant_id, hour, '' AS customer, provider, model, application,
    sum(events), sum(unpriced_events), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
    sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(cost_usd)
FROM usage_hourly
WHERE (SELECT count() FROM usage_hourly_customer) = 0
GROUP BY tenant_id, hour, provider, model, application;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_hourly_customer_mv TO usage_hourly_customer AS
SELECT
    tenant_id,
    toStartOfHour(event_time) AS hour,
    customer, provider, model, application,
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
GROUP BY tenant_id, hour, customer, provider, model, application;
