-- Holds (sql/migrations/0006_holds.sql): placed by jobs and by the webhook correlator, read
-- by every job each control tick, lifted by `campaign resume` and by ending webhooks.

-- name: place_hold
-- An identical active hold (same scope, key and timedness) is reused: a timed one is
-- extended, an untimed one left as it is. $8 = seconds (NULL = untimed).
WITH existing AS (
    SELECT id FROM holds
    WHERE lifted_at IS NULL AND scope = $1
      AND campaign_id IS NOT DISTINCT FROM $2 AND channel IS NOT DISTINCT FROM $3
      AND portfolio IS NOT DISTINCT FROM $4 AND template_name IS NOT DISTINCT FROM $5
      AND (until IS NULL) = ($8::float8 IS NULL)
      AND (until IS NULL OR until > now())
    ORDER BY id LIMIT 1
), extended AS (
    UPDATE holds h SET until = greatest(h.until, now() + make_interval(secs => $8::float8))
    FROM existing e WHERE h.id = e.id AND $8::float8 IS NOT NULL
    RETURNING h.id
), inserted AS (
    INSERT INTO holds (scope, campaign_id, channel, portfolio, template_name, reason, source, until)
    SELECT $1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8::float8)
    WHERE NOT EXISTS (SELECT 1 FROM existing)
    RETURNING id
)
SELECT id, true AS created FROM inserted
UNION ALL
SELECT id, false AS created FROM existing

-- name: pause_held_campaigns
-- Pause the campaigns an untimed hold covers that are in one of the states $2.
UPDATE campaigns c SET state = 'paused', state_reason = h.reason, updated_at = now()
FROM holds h, channels ch
WHERE h.id = $1 AND ch.name = c.channel AND c.state = ANY($2::text[])
  AND hold_covers(h.scope, h.campaign_id, h.channel, h.portfolio, h.template_name,
                  c.id, c.channel, ch.portfolio, c.template_name)
RETURNING c.id, c.name

-- name: campaign_holds
-- The active holds covering a campaign, untimed first, then the longest timed one.
-- remaining_s: seconds left of a timed hold (by the database clock; NULL = untimed).
SELECT h.id, h.scope, h.reason, h.source, h.created_at, h.until,
       extract(epoch FROM h.until - now())::float8 AS remaining_s
FROM campaigns c
JOIN channels ch ON ch.name = c.channel
JOIN holds h ON h.lifted_at IS NULL AND (h.until IS NULL OR h.until > now())
 AND hold_covers(h.scope, h.campaign_id, h.channel, h.portfolio, h.template_name,
                 c.id, c.channel, ch.portfolio, c.template_name)
WHERE c.id = $1
ORDER BY h.until IS NOT NULL, h.until DESC, h.id

-- name: lift_campaign_holds
-- `campaign resume`: lift every untimed hold covering the campaign.
UPDATE holds h SET lifted_at = now(), lifted_by = $2
FROM campaigns c JOIN channels ch ON ch.name = c.channel
WHERE c.id = $1 AND h.lifted_at IS NULL AND h.until IS NULL
  AND hold_covers(h.scope, h.campaign_id, h.channel, h.portfolio, h.template_name,
                  c.id, c.channel, ch.portfolio, c.template_name)
RETURNING h.id, h.scope, h.reason

-- name: lift_holds
-- A webhook that ends a condition: lift the active holds of that scope and key placed by
-- one of the sources $5.
UPDATE holds SET lifted_at = now(), lifted_by = $6
WHERE lifted_at IS NULL AND scope = $1 AND source = ANY($5::text[])
  AND channel IS NOT DISTINCT FROM $2 AND portfolio IS NOT DISTINCT FROM $3
  AND template_name IS NOT DISTINCT FROM $4
RETURNING id, reason

-- name: list_active_holds
SELECT id, scope, campaign_id, channel, portfolio, template_name, reason, source,
       created_at, until
FROM holds
WHERE lifted_at IS NULL AND (until IS NULL OR until > now())
ORDER BY id
