-- Webhook receiver and correlator. Executed only by engine/db/webhooks.py.

-- name: insert_inbox_bodies
-- Group commit: every body queued while the previous batch committed, one INSERT.
INSERT INTO webhook_inbox (channel, body)
SELECT channel, body FROM unnest($1::text[], $2::bytea[]) AS b(channel, body)

-- name: list_channel_names
SELECT name FROM channels

-- name: claim_inbox_rows
-- Walks the partial index webhook_inbox_unprocessed; SKIP LOCKED lets several receivers'
-- correlators take disjoint batches.
SELECT id, channel, body FROM webhook_inbox
WHERE processed_at IS NULL
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED

-- name: mark_inbox_processed
UPDATE webhook_inbox w SET processed_at = now(), problem = p.problem
FROM unnest($1::bigint[], $2::text[]) AS p(id, problem)
WHERE w.id = p.id

-- name: apply_statuses
-- One round trip per batch. Each status finds its outbox row by wamid (unique index), else
-- by callback data (primary key; only rows without a wamid that may still become accepted).
-- Statuses are aggregated per row first: UPDATE ... FROM with several source rows for one
-- target applies an arbitrary one. The WHERE guard (rank must rise) is re-evaluated by
-- Postgres against the newest row version when a concurrent correlator got there first,
-- so merges commute across workers. Unmatched statuses are parked in pending_statuses.
-- $13 = park unmatched?  $14 = states that may become failed, $15 = ... become accepted.
WITH s AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::bigint[], $4::bigint[], $5::text[],
                         $6::timestamptz[], $7::int[], $8::text[], $9::text[], $10::text[],
                         $11::bool[], $12::text[])
        AS s(ord, wamid, cb_campaign, cb_message, status, ts, error_code, error_detail,
             pricing_category, pricing_type, billable, event)
),
hit0 AS (
    SELECT s.ord, s.wamid, coalesce(mw.id, mc.id) AS message_id, mw.id IS NULL AS by_callback
    FROM s
    LEFT JOIN messages mw ON mw.wamid = s.wamid
    LEFT JOIN messages mc ON mw.id IS NULL AND mc.id = s.cb_message
         AND mc.campaign_id = s.cb_campaign AND mc.wamid IS NULL AND mc.state = ANY($15::text[])
),
hit AS (
    -- two different wamids carrying one row's callback data in one batch (a duplicate
    -- send): only the smallest is merged here, the other waits in pending_statuses
    SELECT ord, by_callback,
           CASE WHEN by_callback AND wamid <> min(wamid) OVER (PARTITION BY message_id)
                THEN NULL ELSE message_id END AS message_id
    FROM hit0
),
agg AS (
    SELECT h.message_id,
           bool_or(h.by_callback) AS by_callback,
           min(s.wamid) AS wamid,
           max(webhook_status_rank(s.status)) AS rank,
           min(s.ts) AS first_ts,
           min(s.ts) FILTER (WHERE s.status = 'sent') AS sent_ts,
           min(s.ts) FILTER (WHERE s.status = 'delivered') AS delivered_ts,
           min(s.ts) FILTER (WHERE s.status = 'read') AS read_ts,
           min(s.ts) FILTER (WHERE s.status = 'failed') AS failed_ts,
           min(s.ord) FILTER (WHERE s.status = 'failed') AS failed_ord,
           min(s.ord) FILTER (WHERE s.pricing_category IS NOT NULL
                                 OR s.pricing_type IS NOT NULL
                                 OR s.billable IS NOT NULL) AS pricing_ord,
           array_agg(s.ord) AS ords
    FROM hit h JOIN s USING (ord)
    WHERE h.message_id IS NOT NULL AND webhook_status_rank(s.status) IS NOT NULL
    GROUP BY h.message_id
),
src AS (
    SELECT a.*, (ARRAY['sent', 'failed', 'delivered', 'read'])[a.rank] AS top,
           f.error_code, f.error_detail,
           p.pricing_category, p.pricing_type, p.billable
    FROM agg a
    LEFT JOIN s f ON f.ord = a.failed_ord
    LEFT JOIN s p ON p.ord = a.pricing_ord
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
    SELECT coalesce(s.wamid, ''), s.event::jsonb ->> 'callback', s.status, s.event::jsonb,
           s.cb_campaign, s.cb_message, now() + interval '100 milliseconds'
    FROM hit h JOIN s USING (ord)
    WHERE h.message_id IS NULL AND $13::bool
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
SELECT id, event FROM pending_statuses
WHERE next_check_at <= now()
ORDER BY next_check_at
LIMIT $1
FOR UPDATE SKIP LOCKED

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

-- name: count_recent_template_drops
-- Recent 132015 failures per template of the given campaigns (partial index
-- messages_failed_132015 keeps this to the recent drops).
SELECT c.template_name, c.template_language, count(*) AS n
FROM messages m JOIN campaigns c ON c.id = m.campaign_id
WHERE m.error_code = 132015 AND m.status = 'failed'
  AND m.updated_at > now() - make_interval(secs => $2)
  AND c.template_name IN (SELECT template_name FROM campaigns WHERE id = ANY($1::bigint[]))
GROUP BY c.template_name, c.template_language

-- name: pause_template_campaigns
-- $2 NULL = every language; $3 NULL = every portfolio; $5 = states a pause may interrupt.
UPDATE campaigns c SET state = 'paused', state_reason = $4, updated_at = now()
FROM channels ch
WHERE ch.name = c.channel AND c.template_name = $1
  AND ($2::text IS NULL OR c.template_language = $2)
  AND ($3::text IS NULL OR ch.portfolio = $3)
  AND c.state = ANY($5::text[])
RETURNING c.id, c.name

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

-- name: update_channel_health
UPDATE channels SET quality_rating = coalesce($2, quality_rating),
                    health = coalesce($3, health), updated_at = now()
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
