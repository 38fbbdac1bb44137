-- The parts of an event's token counts that are not text (native usage fields audio_input_tokens, …; OTLP
-- gen_ai.usage.{audio,image,video}.* and the like), each inside its total: what the event was priced by, kept so an
-- audio or image bill can be explained and re-priced. Rows stored before these columns read as 0 (all text).
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS audio_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS image_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS video_input_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS audio_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS image_cache_read_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS audio_cache_write_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS audio_output_tokens UInt64 DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS image_output_tokens UInt64 DEFAULT 0;
