-- The pending deliveries only, by age: /metrics reports the age of the oldest one at every
-- scrape (SPEC §7 outbox), and without this index that is a lookup of every pending row (half
-- a second at 100k pending, on the event loop, during exactly the outage one watches for).
-- Partial, so it holds only the backlog and costs a write only when a row enters or leaves it.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (created_at) WHERE status = 'pending';
