-- name: claim_messages
-- SKIP LOCKED lets several jobs claim concurrently without waiting on each other; the
-- partial index messages_claimable serves the scan in id order.
-- The update finds the claimed rows by primary key (id = ANY of the claimed ids): joined
-- to the CTE instead, the planner hashed the whole outbox whenever it was small next to
-- the batch (a sequential scan of 50,000 rows for every 1,000-row claim), and a generic
-- plan does that on any outbox.
WITH due AS (
    SELECT id FROM messages
    WHERE campaign_id = $1 AND state = 'pending' AND (retry_at IS NULL OR retry_at <= now())
    ORDER BY id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE messages m
SET state = 'in_flight', claim_token = $2, claimed_at = now(),
    attempts = m.attempts + 1, updated_at = now()
FROM recipients r
WHERE m.id = ANY (ARRAY(SELECT id FROM due)) AND r.id = m.recipient_id
RETURNING m.id, m.phone, m.attempts, r.attrs

-- name: record_outcomes
-- One round trip per batch. Guarded by state and claim token: a row that a webhook already
-- settled, or that a takeover marked unknown, is not overwritten.
-- Shaped for the plan: the unnest is a MATERIALIZED CTE that carries the expected state as
-- a column, so the guard is a join clause and no plan can start from the messages_in_flight
-- partial index. Its row estimate is stale (the set is near empty whenever ANALYZE runs),
-- and plans that started from it joined every in-flight row of every campaign (a nested
-- loop seen at 800 ms per 1,000 rows). The only cheap plan left, custom or generic
-- (asyncpg's prepared statement switches to the generic one after five runs), is a nested
-- loop over the batch looking rows up by primary key.
-- The same statement refreshes the portfolio's 24 h ledger for the accepted phones ($12) to
-- the real send time (a retry or a send window may send hours after the claim's
-- reservation). It is kept even on an unlimited tier, because a tier learned later must
-- count the sends already made. $11 = portfolio (NULL: no ledger). Phones come from the
-- batch, not from the updated rows: an accepted send counts even when a webhook settled its
-- row first. $8 = outcome times as epoch seconds (float8 encodes at less than half the
-- client CPU of timestamptz; exact to about a microsecond).
WITH o AS MATERIALIZED (
    SELECT o.*, to_timestamp(o.at_epoch_s) AS at, 'in_flight'::text AS claimed_state
    FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                $6::int[], $7::text[], $8::float8[], $9::int[])
         AS o(id, state, wamid, message_status, retry_at, error_code, error_detail, at_epoch_s,
              refund)
), recorded AS (
    UPDATE messages m
    SET state = o.state,
        wamid = COALESCE(o.wamid, m.wamid),
        message_status = COALESCE(o.message_status, m.message_status),
        retry_at = o.retry_at,
        error_code = o.error_code,
        error_detail = o.error_detail,
        accepted_at = CASE WHEN o.state = 'accepted' THEN o.at ELSE m.accepted_at END,
        failed_at = CASE WHEN o.state = 'failed' THEN o.at ELSE m.failed_at END,
        attempts = m.attempts - o.refund,
        claim_token = NULL, claimed_at = NULL, updated_at = now()
    FROM o
    WHERE m.id = o.id AND m.state = o.claimed_state AND m.claim_token = $10
    RETURNING m.id
), touched AS (
    -- DISTINCT: ON CONFLICT DO UPDATE may not touch one row twice in a statement; phone
    -- order, so two recorders of one portfolio lock its ledger rows in the same order
    INSERT INTO portfolio_contacts (portfolio, phone, last_sent_at)
    SELECT DISTINCT $11::text, t.phone, now() FROM unnest($12::text[]) AS t(phone)
    WHERE $11::text IS NOT NULL
    ORDER BY 2
    ON CONFLICT (portfolio, phone) DO UPDATE SET last_sent_at = EXCLUDED.last_sent_at
)
SELECT count(*) FROM recorded

-- name: release_claims
-- Rows claimed but never handed to HTTP go back to pending (no attempt was made).
UPDATE messages
SET state = 'pending', attempts = attempts - 1, claim_token = NULL, claimed_at = NULL,
    updated_at = now()
WHERE id = ANY($1::bigint[]) AND state = 'in_flight' AND claim_token = $2

-- name: recover_in_flight
-- Run right after taking the channel lease: any in_flight row of the campaign belongs to a
-- job that died; its request may or may not have reached 360dialog, so it is unknown.
UPDATE messages
SET state = 'unknown', error_detail = 'claim lost: previous job stopped mid-send',
    claim_token = NULL, updated_at = now()
WHERE campaign_id = $1 AND state = 'in_flight'

-- name: resend_unknown
-- on_unknown=resend: unknown rows still without a wamid after the grace period are queued.
UPDATE messages
SET state = 'pending', retry_at = NULL, updated_at = now()
WHERE campaign_id = $1 AND state = 'unknown' AND wamid IS NULL
  AND updated_at < now() - make_interval(secs => $2)

-- name: campaign_progress
-- Exact counts by state; reads every row of the campaign, so the job runs it once when it
-- starts sending and once at the end, never per interval (see campaign_live_counts).
SELECT
    count(*) FILTER (WHERE state = 'pending' AND (retry_at IS NULL OR retry_at <= now())) AS due,
    count(*) FILTER (WHERE state = 'pending' AND retry_at > now()) AS waiting,
    min(retry_at) FILTER (WHERE state = 'pending' AND retry_at > now()) AS next_retry_at,
    count(*) FILTER (WHERE state = 'in_flight') AS in_flight,
    count(*) FILTER (WHERE state = 'accepted') AS accepted,
    count(*) FILTER (WHERE state = 'failed') AS failed,
    count(*) FILTER (WHERE state = 'unknown') AS unknown,
    count(*) FILTER (WHERE state = 'unknown' AND wamid IS NULL) AS unknown_unsettled,
    count(*) FILTER (WHERE state = 'suppressed') AS suppressed,
    count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
    count(*) AS total
FROM messages WHERE campaign_id = $1

-- name: campaign_live_counts
-- The per-interval progress line: only the small, fast-changing sets, each read through its
-- partial index, so the cost follows those sets, not the campaign (the full count above
-- reads every row of it: 356 ms on a 1M-row outbox).
SELECT
    (SELECT count(*) FROM messages WHERE campaign_id = $1 AND state = 'in_flight') AS in_flight,
    u.unknown, u.unknown_unsettled, w.waiting, w.next_retry_at
FROM (SELECT count(*) AS unknown, count(*) FILTER (WHERE wamid IS NULL) AS unknown_unsettled
      FROM messages WHERE campaign_id = $1 AND state = 'unknown') u,
     (SELECT count(*) AS waiting, min(retry_at) AS next_retry_at
      FROM messages
      WHERE campaign_id = $1 AND state = 'pending' AND retry_at IS NOT NULL
        AND retry_at > now()) w

-- name: campaign_unfinished
-- The completion check (every control tick once the producer finds nothing): one probe per
-- partial index instead of counting the campaign. Each probe is ordered like its index, so
-- the plan walks the index; a bare EXISTS was planned as a sequential scan of the outbox
-- whenever the statistics still showed many pending rows.
SELECT
    (SELECT id FROM messages WHERE campaign_id = $1 AND state = 'pending'
     ORDER BY id LIMIT 1) IS NOT NULL AS pending,
    (SELECT id FROM messages WHERE campaign_id = $1 AND state = 'in_flight'
     ORDER BY claimed_at LIMIT 1) IS NOT NULL AS in_flight,
    (SELECT id FROM messages WHERE campaign_id = $1 AND state = 'unknown' AND wamid IS NULL
     ORDER BY id LIMIT 1) IS NOT NULL AS unknown_unsettled

-- name: cancel_pending
UPDATE messages SET state = 'cancelled', updated_at = now()
WHERE campaign_id = $1 AND state = 'pending'

-- name: requeue_failed
-- `campaign retry`: failed rows with the given codes are sent again (a new attempt series).
-- 131049 (per-user marketing cap) waits at least 24 h unless --after says otherwise.
UPDATE messages
SET state = 'pending', attempts = 0, wamid = NULL, status = NULL, message_status = NULL,
    sent_at = NULL, delivered_at = NULL, read_at = NULL, failed_at = NULL,
    retry_at = now() + make_interval(secs => COALESCE($3::float8,
                                     CASE WHEN error_code = 131049 THEN 86400 ELSE 0 END)),
    updated_at = now()
WHERE campaign_id = $1 AND state = 'failed' AND error_code = ANY($2::int[])

-- name: defer_claims
-- Claimed rows outside their send window go back to pending until it opens (no attempt).
UPDATE messages m
SET state = 'pending', retry_at = d.until, attempts = m.attempts - 1,
    claim_token = NULL, claimed_at = NULL, updated_at = now()
FROM unnest($1::bigint[], $2::timestamptz[]) AS d(id, until)
WHERE m.id = d.id AND m.state = 'in_flight' AND m.claim_token = $3
