-- Units an event reports beside its tokens (native usage fields images, audio_seconds, web_search_queries; OTLP
-- tokage.usage.*): input images, seconds of audio (exact to the microsecond), web searches. Rows stored before these
-- columns read as 0.
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS images UInt64 DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS audio_seconds Decimal(18, 6) DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS web_search_queries UInt64 DEFAULT 0;
