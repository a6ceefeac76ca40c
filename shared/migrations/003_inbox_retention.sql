-- The inbox prune (shared/inbox.py) finds rows by age. BRIN, not B-tree: rows arrive in processed_at
-- order, so a BRIN index of a few pages serves the prune, and an insert (one per handler per event,
-- the consumer's hot path) adds no B-tree descent and no contention on its rightmost leaf.
CREATE INDEX IF NOT EXISTS inbox_processed_at_brin ON inbox USING brin (processed_at);
