-- Webhook receiver and correlator. Executed only by engine/db/webhooks.py.

-- name: insert_inbox_bodies
-- Group commit: every body queued while the previous batch committed, one INSERT.
INSERT INTO webhook_inbox (channel, body)
SELECT channel, body FROM unnest($1::text[], $2::bytea[]) AS b(channel, body)

-- name: list_channel_names
SELECT name FROM channels

-- name: claim_inbox_rows
-- Walks the partial index webhook_inbox_unprocessed; SKIP LOCKED lets several receivers'
-- correlators take disjoint batches. $2 (optional) narrows the claim to one row.
SELECT id, channel, body FROM webhook_inbox
WHERE processed_at IS NULL AND ($2::bigint IS NULL OR id = $2)
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED

-- name: list_unprocessed_ids
SELECT id FROM webhook_inbox WHERE processed_at IS NULL ORDER BY id LIMIT $1

-- name: mark_inbox_processed
-- clock_timestamp(): processed_at - received_at is the correlator's lag, batch time included.
UPDATE webhook_inbox w SET processed_at = clock_timestamp(), problem = p.problem
FROM unnest($1::bigint[], $2::text[]) AS p(id, problem)
WHERE w.id = p.id AND w.processed_at IS NULL

-- name: apply_statuses
-- One round trip per batch. Each status finds its outbox row by wamid (unique index), else
-- by callback data (primary key; only rows without a wamid that may still become accepted).
-- Statuses are aggregated per row first: UPDATE ... FROM with several source rows for one
-- target applies an arbitrary one. The WHERE guard (rank must rise) is re-evaluated by
-- Postgres against the newest row version when a concurrent correlator got there first,
-- so merges commute across workers. Unmatched statuses are parked in pending_statuses.
-- Shaped for the generic plan (which assumes a 10-row unnest): the status columns are
-- carried through instead of re-joining the unnest by ord, which that plan turns into
-- nested loops over CTE scans (seconds for a 5,000-status batch).
-- $13 = park unmatched?  $14 = states that may become failed, $15 = ... become accepted.
WITH s AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::bigint[], $4::bigint[], $5::text[],
                         $6::timestamptz[], $7::int[], $8::text[], $9::text[], $10::text[],
                         $11::bool[], $12::text[])
        AS s(ord, wamid, cb_campaign, cb_message, status, ts, error_code, error_detail,
             pricing_category, pricing_type, billable, event)
),
hit0 AS (
    SELECT s.*, coalesce(mw.id, mc.id) AS mid, mw.id IS NULL AS by_callback
    FROM s
    LEFT JOIN messages mw ON mw.wamid = s.wamid
    LEFT JOIN messages mc ON mw.id IS NULL AND mc.id = s.cb_message
         AND mc.campaign_id = s.cb_campaign AND mc.wamid IS NULL AND mc.state = ANY($15::text[])
),
hit AS (
    -- two different wamids carrying one row's callback data in one batch (a duplicate
    -- send): only the smallest is merged here, the other waits in pending_statuses
    SELECT h.*,
           CASE WHEN by_callback AND wamid <> min(wamid) OVER (PARTITION BY mid)
                THEN NULL ELSE mid END AS message_id
    FROM hit0 h
),
src AS (
    SELECT message_id,
           bool_or(by_callback) AS by_callback,
           min(wamid) AS wamid,
           max(webhook_status_rank(status)) AS rank,
           (ARRAY['sent', 'failed', 'delivered', 'read'])[max(webhook_status_rank(status))]
               AS top,
           min(ts) AS first_ts,
           min(ts) FILTER (WHERE status = 'sent') AS sent_ts,
           min(ts) FILTER (WHERE status = 'delivered') AS delivered_ts,
           min(ts) FILTER (WHERE status = 'read') AS read_ts,
           min(ts) FILTER (WHERE status = 'failed') AS failed_ts,
           (array_agg(error_code ORDER BY ord) FILTER (WHERE status = 'failed'))[1]
               AS error_code,
           (array_agg(error_detail ORDER BY ord) FILTER (WHERE status = 'failed'))[1]
               AS error_detail,
           (array_agg(pricing_category ORDER BY ord) FILTER (WHERE pricing_category
               IS NOT NULL OR pricing_type IS NOT NULL OR billable IS NOT NULL))[1]
               AS pricing_category,
           (array_agg(pricing_type ORDER BY ord) FILTER (WHERE pricing_category
               IS NOT NULL OR pricing_type IS NOT NULL OR billable IS NOT NULL))[1]
               AS pricing_type,
           (array_agg(billable ORDER BY ord) FILTER (WHERE pricing_category
               IS NOT NULL OR pricing_type IS NOT NULL OR billable IS NOT NULL))[1]
               AS billable,
           array_agg(ord) AS ords
    FROM hit
    WHERE message_id IS NOT NULL AND webhook_status_rank(status) IS NOT NULL
    GROUP BY message_id
    -- row locks taken in id order (the plan is a nested loop over src), so two correlators
    -- updating overlapping rows queue behind each other instead of deadlocking
    ORDER BY message_id
),
upd AS (
    UPDATE messages m SET
        status = x.top,
        wamid = coalesce(m.wamid, CASE WHEN x.by_callback THEN x.wamid END),
        state = CASE
            WHEN x.top = 'failed' AND m.state = ANY($14::text[]) THEN 'failed'
            WHEN x.top <> 'failed' AND m.state = ANY($15::text[]) THEN 'accepted'
            ELSE m.state END,
        accepted_at = CASE
            WHEN x.top <> 'failed' AND m.state = ANY($15::text[])
            THEN coalesce(m.accepted_at, x.first_ts) ELSE m.accepted_at END,
        -- delivered and read imply sent; read implies delivered
        sent_at = coalesce(m.sent_at, x.sent_ts,
                           CASE WHEN x.rank >= 3 THEN least(x.delivered_ts, x.read_ts) END),
        delivered_at = coalesce(m.delivered_at, x.delivered_ts,
                                CASE WHEN x.rank >= 4 THEN x.read_ts END),
        read_at = coalesce(m.read_at, x.read_ts),
        failed_at = CASE WHEN x.top = 'failed' THEN coalesce(m.failed_at, x.failed_ts)
                         ELSE m.failed_at END,
        error_code = CASE WHEN x.top = 'failed' THEN x.error_code ELSE m.error_code END,
        error_detail = CASE WHEN x.top = 'failed' THEN x.error_detail ELSE m.error_detail END,
        pricing_category = coalesce(m.pricing_category, x.pricing_category),
        pricing_type = coalesce(m.pricing_type, x.pricing_type),
        billable = coalesce(m.billable, x.billable),
        updated_at = now()
    FROM src x
    WHERE m.id = x.message_id AND x.rank > coalesce(webhook_status_rank(m.status), 0)
    RETURNING m.id, m.campaign_id, m.phone, m.bsuid, m.status, m.error_code,
              x.by_callback, x.ords
),
parked AS (
    INSERT INTO pending_statuses (wamid, callback_data, status, event, campaign_id,
                                  message_id, next_check_at)
    SELECT coalesce(wamid, ''), event::jsonb ->> 'callback', status, event::jsonb,
           cb_campaign, cb_message, now() + interval '100 milliseconds'
    FROM hit
    WHERE message_id IS NULL AND $13::bool
)
SELECT 'updated' AS kind, id, campaign_id, phone, bsuid, status, error_code, by_callback,
       ords
FROM upd
UNION ALL
SELECT 'unmatched', NULL, NULL, NULL, NULL, NULL, NULL, NULL, coalesce(array_agg(ord), '{}')
FROM hit WHERE message_id IS NULL
UNION ALL
SELECT 'matched', NULL, NULL, NULL, NULL, NULL, NULL, NULL, coalesce(array_agg(ord), '{}')
FROM hit WHERE message_id IS NOT NULL

-- name: claim_due_pending
-- Due rows only (index pending_statuses_due); the backoff keeps stale ones cheap.
-- $2 (optional) narrows the claim to one row.
SELECT id, event FROM pending_statuses
WHERE next_check_at <= now() AND ($2::bigint IS NULL OR id = $2)
ORDER BY next_check_at
LIMIT $1
FOR UPDATE SKIP LOCKED

-- name: list_due_pending_ids
SELECT id FROM pending_statuses WHERE next_check_at <= now() ORDER BY next_check_at LIMIT $1

-- name: shelve_pending
-- A parked status that fails to apply on its own: keep it, look again tomorrow.
UPDATE pending_statuses SET checks = checks + 1, next_check_at = now() + interval '1 day'
WHERE id = $1

-- name: delete_pending
DELETE FROM pending_statuses WHERE id = ANY($1::bigint[])

-- name: defer_pending
-- Next check after a tenth of the status's age: 100 ms when fresh, at most hourly.
UPDATE pending_statuses SET checks = checks + 1,
    next_check_at = now() + least(greatest((now() - received_at) / 10,
                                           interval '100 milliseconds'), interval '1 hour')
WHERE id = ANY($1::bigint[])

-- name: add_suppressions
-- Each (phone, bsuid) pair adds only the identities not suppressed yet, so a pair whose
-- phone is already known still records its BSUID (and the other way round).
INSERT INTO suppressions (phone, bsuid, reason, source)
SELECT n.phone, n.bsuid, $3, $4
FROM unnest($1::text[], $2::text[]) AS p(phone, bsuid),
LATERAL (
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.phone = p.phone)
                THEN p.phone END AS phone,
           CASE WHEN NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.bsuid = p.bsuid)
                THEN p.bsuid END AS bsuid
) AS n
WHERE n.phone IS NOT NULL OR n.bsuid IS NOT NULL
ON CONFLICT DO NOTHING

-- name: lift_suppressions
DELETE FROM suppressions
WHERE reason = $3 AND (phone = ANY($1::text[]) OR bsuid = ANY($2::text[]))

-- name: list_opt_out_payloads
SELECT DISTINCT jsonb_array_elements_text(spec -> 'options' -> 'opt_out_payloads') AS payload
FROM campaigns
WHERE jsonb_typeof(spec -> 'options' -> 'opt_out_payloads') = 'array'

-- name: insert_status_failures
-- Failed statuses whose code pauses a scope (132015, 131048, ...), for burst detection.
INSERT INTO status_failures (campaign_id, code)
SELECT * FROM unnest($1::bigint[], $2::integer[])

-- name: count_recent_status_failures
-- Recent failures with codes $3 across the portfolios of campaigns $1, per campaign and
-- code. A failure that arrived before a burst hold covering it was lifted (or while it is
-- active) belongs to that hold and is not counted again: a resumed campaign is not paused
-- at once by the burst, or the stragglers of the burst, it was paused for.
SELECT f.code, c.id AS campaign_id, c.channel, ch.portfolio, c.template_name, count(*) AS n
FROM status_failures f
JOIN campaigns c ON c.id = f.campaign_id
JOIN channels ch ON ch.name = c.channel
WHERE f.received_at > now() - make_interval(secs => $2::float8)
  AND f.code = ANY($3::integer[])
  AND ch.portfolio IN (
      SELECT ch2.portfolio FROM campaigns c2 JOIN channels ch2 ON ch2.name = c2.channel
      WHERE c2.id = ANY($1::bigint[]))
  AND NOT EXISTS (
      SELECT 1 FROM holds h
      WHERE h.source = 'status_burst' AND f.received_at <= coalesce(h.lifted_at, 'infinity')
        AND hold_covers(h.scope, h.campaign_id, h.channel, h.portfolio, h.template_name,
                        c.id, c.channel, ch.portfolio, c.template_name))
GROUP BY 1, 2, 3, 4, 5

-- name: upsert_template_status
INSERT INTO template_statuses (channel, template_name, language, status, reason, event)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (template_name, language, channel) DO UPDATE
SET status = excluded.status, reason = excluded.reason, event = excluded.event,
    updated_at = now()

-- name: find_channel
-- The channel a WABA-level event is about: by display phone (digits only), else the
-- channel whose URL received it; NULL when neither is in the channels table.
SELECT name, portfolio FROM channels
WHERE ($1::text IS NOT NULL AND regexp_replace(display_phone, '\D', '', 'g') = $1)
   OR name = $2
ORDER BY (name = $2)
LIMIT 1

-- name: insert_governance_event
INSERT INTO governance_events (channel, field, event, payload) VALUES ($1, $2, $3, $4)

-- name: update_channel_event
UPDATE channels SET
    quality_event = CASE WHEN $2 = 'phone_number_quality_update' THEN $3 ELSE quality_event END,
    account_event = CASE WHEN $2 = 'account_update' THEN $3 ELSE account_event END,
    governance_at = now(), updated_at = now()
WHERE name = $1

-- name: update_portfolio_tier
UPDATE portfolios SET tier_limit = $2, tier_source = $3, updated_at = now()
WHERE name = $1

-- name: webhook_cost_by_category
-- Meta bills delivered templates; pricing.type 'regular' is billable (billable is the
-- deprecated flag, used only when type is absent).
SELECT coalesce(pricing_category, 'unknown') AS category, count(*) AS n
FROM messages
WHERE campaign_id = $1 AND status IN ('delivered', 'read')
  AND (pricing_type = 'regular' OR (pricing_type IS NULL AND billable))
GROUP BY 1 ORDER BY 1

-- name: webhook_delivery_latency
-- Webhook timestamps have 1 s resolution, so a delivery can appear to precede acceptance.
SELECT count(*) AS n,
       percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (
           ORDER BY greatest(extract(epoch FROM delivered_at - accepted_at), 0)) AS p
FROM messages
WHERE campaign_id = $1 AND delivered_at IS NOT NULL AND accepted_at IS NOT NULL

-- name: get_channel_base_url
SELECT base_url FROM channels WHERE name = $1
