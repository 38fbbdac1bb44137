-- The budget reservation an event settles (native field `reservation_id`, OTLP span attribute `tokage.reservation_id`):
-- once a row carries it, the reservation no longer holds budget room, and the event's own cost counts instead.
-- Rows stored before this column read as '' (none).
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS reservation_id String DEFAULT '';
