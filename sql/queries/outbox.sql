-- name: claim_messages
-- SKIP LOCKED lets several jobs claim concurrently without waiting on each other; the
-- partial index messages_claimable serves the scan in id order.
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
FROM due, recipients r
WHERE m.id = due.id AND r.id = m.recipient_id
RETURNING m.id, m.phone, m.attempts, r.attrs

-- name: record_outcomes
-- One round trip per batch. Guarded by state and claim token: a row that a webhook already
-- settled, or that a takeover marked unknown, is not overwritten.
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
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
            $6::int[], $7::text[], $8::timestamptz[], $9::int[])
     AS o(id, state, wamid, message_status, retry_at, error_code, error_detail, at, refund)
WHERE m.id = o.id AND m.state = 'in_flight' AND m.claim_token = $10

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
