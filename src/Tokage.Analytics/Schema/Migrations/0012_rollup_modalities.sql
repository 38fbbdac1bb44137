-- The rollups carry what the raw rows carry since 0009 and 0010: the non-text token counts (audio, image, video; each
-- inside its total) and the units (input images, seconds of audio, web searches), so a breakdown shows an audio bill's
-- audio from a rollup as from the raw rows. The views change in place (MODIFY QUERY: no insert falls between an old and
-- a new view). Rollup rows written before this read 0 for them; the raw rows have them all.
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS audio_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS image_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS video_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS audio_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS image_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS audio_cache_write_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS audio_output_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS image_output_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS images UInt64 DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS web_search_queries UInt64 DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS audio_seconds Decimal(18, 6) DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS audio_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS image_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS video_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS audio_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS image_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS audio_cache_write_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS audio_output_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS image_output_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS images UInt64 DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS web_search_queries UInt64 DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS audio_seconds Decimal(18, 6) DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS audio_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS image_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS video_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS audio_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS image_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS audio_cache_write_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS audio_output_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS image_output_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS images UInt64 DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS web_search_queries UInt64 DEFAULT 0;
ALTER TABLE usage_daily_compact ADD COLUMN IF NOT EXISTS audio_seconds Decimal(18, 6) DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS audio_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS image_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS video_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS audio_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS image_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS audio_cache_write_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS audio_output_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS image_output_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS images UInt64 DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS web_search_queries UInt64 DEFAULT 0;
ALTER TABLE usage_daily_user ADD COLUMN IF NOT EXISTS audio_seconds Decimal(18, 6) DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS audio_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS image_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS video_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS audio_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS image_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS audio_cache_write_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS audio_output_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS image_output_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS images UInt64 DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS web_search_queries UInt64 DEFAULT 0;
ALTER TABLE usage_hourly_customer ADD COLUMN IF NOT EXISTS audio_seconds Decimal(18, 6) DEFAULT 0;

ALTER TABLE usage_hourly_mv MODIFY QUERY
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
    sum(cost_usd) AS cost_usd,
    sum(audio_input_tokens) AS audio_input_tokens,
    sum(image_input_tokens) AS image_input_tokens,
    sum(video_input_tokens) AS video_input_tokens,
    sum(audio_cache_read_tokens) AS audio_cache_read_tokens,
    sum(image_cache_read_tokens) AS image_cache_read_tokens,
    sum(audio_cache_write_tokens) AS audio_cache_write_tokens,
    sum(audio_output_tokens) AS audio_output_tokens,
    sum(image_output_tokens) AS image_output_tokens,
    sum(images) AS images,
    sum(audio_seconds) AS audio_seconds,
    sum(web_search_queries) AS web_search_queries
FROM usage_events
GROUP BY tenant_id, hour, provider, model, application, project, user_id, team, environment;

ALTER TABLE usage_daily_mv MODIFY QUERY
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
    sum(cost_usd) AS cost_usd,
    sum(audio_input_tokens) AS audio_input_tokens,
    sum(image_input_tokens) AS image_input_tokens,
    sum(video_input_tokens) AS video_input_tokens,
    sum(audio_cache_read_tokens) AS audio_cache_read_tokens,
    sum(image_cache_read_tokens) AS image_cache_read_tokens,
    sum(audio_cache_write_tokens) AS audio_cache_write_tokens,
    sum(audio_output_tokens) AS audio_output_tokens,
    sum(image_output_tokens) AS image_output_tokens,
    sum(images) AS images,
    sum(audio_seconds) AS audio_seconds,
    sum(web_search_queries) AS web_search_queries
FROM usage_events
GROUP BY tenant_id, day, provider, model, application, project, user_id, team, environment;

ALTER TABLE usage_daily_compact_mv MODIFY QUERY
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
    sum(cost_usd) AS cost_usd,
    sum(audio_input_tokens) AS audio_input_tokens,
    sum(image_input_tokens) AS image_input_tokens,
    sum(video_input_tokens) AS video_input_tokens,
    sum(audio_cache_read_tokens) AS audio_cache_read_tokens,
    sum(image_cache_read_tokens) AS image_cache_read_tokens,
    sum(audio_cache_write_tokens) AS audio_cache_write_tokens,
    sum(audio_output_tokens) AS audio_output_tokens,
    sum(image_output_tokens) AS image_output_tokens,
    sum(images) AS images,
    sum(audio_seconds) AS audio_seconds,
    sum(web_search_queries) AS web_search_queries
FROM usage_events
GROUP BY tenant_id, day, provider, model, application, project, team, environment;

ALTER TABLE usage_daily_user_mv MODIFY QUERY
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
    sum(cost_usd) AS cost_usd,
    sum(audio_input_tokens) AS audio_input_tokens,
    sum(image_input_tokens) AS image_input_tokens,
    sum(video_input_tokens) AS video_input_tokens,
    sum(audio_cache_read_tokens) AS audio_cache_read_tokens,
    sum(image_cache_read_tokens) AS image_cache_read_tokens,
    sum(audio_cache_write_tokens) AS audio_cache_write_tokens,
    sum(audio_output_tokens) AS audio_output_tokens,
    sum(image_output_tokens) AS image_output_tokens,
    sum(images) AS images,
    sum(audio_seconds) AS audio_seconds,
    sum(web_search_queries) AS web_search_queries
FROM usage_events
GROUP BY tenant_id, day, user_id;

ALTER TABLE usage_hourly_customer_mv MODIFY QUERY
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
    sum(cost_usd) AS cost_usd,
    sum(audio_input_tokens) AS audio_input_tokens,
    sum(image_input_tokens) AS image_input_tokens,
    sum(video_input_tokens) AS video_input_tokens,
    sum(audio_cache_read_tokens) AS audio_cache_read_tokens,
    sum(image_cache_read_tokens) AS image_cache_read_tokens,
    sum(audio_cache_write_tokens) AS audio_cache_write_tokens,
    sum(audio_output_tokens) AS audio_output_tokens,
    sum(image_output_tokens) AS image_output_tokens,
    sum(images) AS images,
    sum(audio_seconds) AS audio_seconds,
    sum(web_search_queries) AS web_search_queries
FROM usage_events
GROUP BY tenant_id, hour, customer, provider, model, application;
