-- 0005: send-path indexes. Forward-only.

-- wamid: unique among the rows that have one, and only those are indexed. The plain UNIQUE
-- constraint also indexed every NULL, so materializing the outbox and every claim (which
-- rewrites the row, still without a wamid) paid one more index insert per message. Lookups
-- by wamid (correlator, reports) use this index as before.
ALTER TABLE messages DROP CONSTRAINT messages_wamid_key;
CREATE UNIQUE INDEX messages_wamid ON messages (wamid) WHERE wamid IS NOT NULL;

-- Pending rows with a retry time (retries, throttles, send-window deferrals): the
-- per-interval progress line counts the waiting ones and finds the next retry through
-- this index, in time proportional to that set, not to the campaign. Fresh rows have no
-- retry_at, so the index stays small and the send path rarely writes to it.
CREATE INDEX messages_waiting ON messages (campaign_id, retry_at)
    WHERE state = 'pending' AND retry_at IS NOT NULL;
