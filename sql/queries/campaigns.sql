-- name: list_campaigns
SELECT c.id, c.name, c.state, c.state_reason, c.channel, c.template_name,
       c.created_at, c.started_at, c.finished_at,
       (SELECT count(*) FROM messages m WHERE m.campaign_id = c.id) AS recipients
FROM campaigns c
WHERE $1::text IS NULL OR c.name = $1
ORDER BY c.id

-- name: count_messages_by_state
SELECT state, count(*) AS n FROM messages WHERE campaign_id = $1 GROUP BY state

-- name: upsert_portfolio
INSERT INTO portfolios (name, tier_limit, tier_source) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE
SET tier_limit = COALESCE(portfolios.tier_limit, EXCLUDED.tier_limit),
    tier_source = COALESCE(portfolios.tier_source, EXCLUDED.tier_source)

-- name: upsert_channel
INSERT INTO channels (name, portfolio, base_url) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE
SET portfolio = EXCLUDED.portfolio, base_url = EXCLUDED.base_url, updated_at = now()

-- name: find_campaign
SELECT id, name, spec_hash, state, state_reason, channel, audience_id, materialized_at
FROM campaigns WHERE name = $1

-- name: find_audience
SELECT id FROM audiences WHERE name = $1

-- name: insert_campaign
INSERT INTO campaigns (name, spec, spec_hash, channel, audience_id, template_name, template_language)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id

-- name: archive_campaign
-- --force-new keeps the old campaign's rows under a new name so history is never lost.
UPDATE campaigns SET name = name || '~' || id::text, updated_at = now() WHERE id = $1

-- name: materialize_outbox
-- One statement: every recipient of the audience snapshot gets exactly one row; suppressed
-- phones/BSUIDs get a row in state 'suppressed' so the report still adds up to the audience.
WITH ins AS (
    INSERT INTO messages (campaign_id, recipient_id, phone, bsuid, state)
    SELECT $1::bigint, r.id, r.phone, r.bsuid,
           CASE WHEN EXISTS (SELECT 1 FROM suppressions s WHERE s.phone = r.phone)
                  OR (r.bsuid IS NOT NULL
                      AND EXISTS (SELECT 1 FROM suppressions s WHERE s.bsuid = r.bsuid))
                THEN 'suppressed' ELSE 'pending' END
    FROM recipients r
    WHERE r.audience_id = $2
    ORDER BY r.id
    ON CONFLICT (campaign_id, recipient_id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM ins

-- name: mark_materialized
UPDATE campaigns SET materialized_at = now(), updated_at = now() WHERE id = $1

-- name: get_campaign_state
SELECT state, state_reason FROM campaigns WHERE id = $1

-- name: set_campaign_state
-- Guarded: the caller passes the states it may move from (the transition table's sources).
UPDATE campaigns
SET state = $2, state_reason = $3, updated_at = now(),
    started_at = CASE WHEN $2 = 'running' THEN COALESCE(started_at, now()) ELSE started_at END,
    finished_at = CASE WHEN $2 IN ('completed', 'cancelled', 'failed') THEN now() ELSE NULL END
WHERE id = $1 AND state = ANY($4::text[])
RETURNING state

-- name: set_campaign_state_by_name
UPDATE campaigns
SET state = $2, state_reason = $3, updated_at = now(),
    finished_at = CASE WHEN $2 IN ('completed', 'cancelled', 'failed') THEN now() ELSE NULL END
WHERE name = $1 AND state = ANY($4::text[])
RETURNING id, state

-- name: acquire_lease
-- Taken when free, expired, or already ours (then it is a renewal).
UPDATE channels
SET lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3)
WHERE name = $1
  AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires_at < now())
RETURNING lease_owner

-- name: release_lease
UPDATE channels SET lease_owner = NULL, lease_expires_at = NULL
WHERE name = $1 AND lease_owner = $2

-- name: dry_run_counts
SELECT count(*) AS recipients,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM suppressions s WHERE s.phone = r.phone)
                          OR (r.bsuid IS NOT NULL
                              AND EXISTS (SELECT 1 FROM suppressions s WHERE s.bsuid = r.bsuid)))
           AS suppressed
FROM recipients r JOIN audiences a ON a.id = r.audience_id
WHERE a.name = $1

-- name: sample_recipients
SELECT r.id, r.phone, r.attrs FROM recipients r JOIN audiences a ON a.id = r.audience_id
WHERE a.name = $1 ORDER BY r.id LIMIT $2

-- name: insert_send_suppressions
INSERT INTO suppressions (phone, reason, source)
SELECT p, r, $3 FROM unnest($1::text[], $2::text[]) AS t(p, r)
ON CONFLICT (phone) WHERE phone IS NOT NULL DO NOTHING

-- name: blocking_template_status
-- The latest announced status of the campaign's template when it forbids sending.
SELECT t.status, t.reason, t.updated_at
FROM campaigns c JOIN template_statuses t ON t.template_name = c.template_name
WHERE c.name = $1 AND t.status IN ('PAUSED', 'DISABLED')
  AND (t.language = '' OR t.language = c.template_language)
ORDER BY t.updated_at DESC LIMIT 1

-- name: campaign_verdict
-- Once, when a campaign has no open row: were any sends accepted (a wamid), how many rows
-- failed, and the three most frequent failure causes (code, else the detail's prefix).
SELECT count(*) FILTER (WHERE wamid IS NOT NULL) AS accepted,
       count(*) FILTER (WHERE state = 'failed') AS failed,
       (SELECT string_agg(cause || ' x ' || n, ', ' ORDER BY n DESC, cause)
        FROM (SELECT coalesce(error_code::text, split_part(error_detail, ':', 1), '?') AS cause,
                     count(*) AS n
              FROM messages WHERE campaign_id = $1 AND state = 'failed'
              GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3) top) AS causes
FROM messages WHERE campaign_id = $1
