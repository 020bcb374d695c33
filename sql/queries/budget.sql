-- name: lock_portfolio_budget
-- Serializes budgeted claims of one portfolio (parallel campaigns, several machines). Taken
-- in its own statement so the claim that follows reads a snapshot taken after the lock.
SELECT pg_advisory_xact_lock(hashtext('portfolio-budget:' || $1))

-- name: effective_tier_limit
-- A tier learned from a webhook (business_capability_update, quality update) wins over the
-- profile's; NULL = unlimited.
SELECT CASE WHEN p.tier_source LIKE 'webhook:%' THEN
            CASE WHEN p.tier_limit >= 2147483647 THEN NULL ELSE p.tier_limit END
       ELSE $2::int END AS tier_limit
FROM portfolios p WHERE p.name = $1

-- name: count_portfolio_contacts
SELECT count(*) FROM portfolio_contacts
WHERE portfolio = $1 AND last_sent_at > now() - interval '24 hours'

-- name: next_budget_free_at
SELECT min(last_sent_at) + interval '24 hours' FROM portfolio_contacts
WHERE portfolio = $1 AND last_sent_at > now() - interval '24 hours'

-- name: claim_messages_budgeted
-- Like claim_messages, but recipients not contacted by the portfolio in the last 24 h are
-- claimed only while the budget ($5 = limit - used) lasts; recipients already counted in the
-- window cost nothing. Every claimed phone is (re)reserved in portfolio_contacts.
WITH due AS (
    SELECT m.id, m.phone,
           EXISTS (SELECT 1 FROM portfolio_contacts pc
                   WHERE pc.portfolio = $4 AND pc.phone = m.phone
                     AND pc.last_sent_at > now() - interval '24 hours') AS counted
    FROM messages m
    WHERE m.campaign_id = $1 AND m.state = 'pending'
      AND (m.retry_at IS NULL OR m.retry_at <= now())
    ORDER BY m.id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), ranked AS (
    SELECT id, phone, counted,
           sum(CASE WHEN counted THEN 0 ELSE 1 END) OVER (ORDER BY id) AS new_n
    FROM due
), chosen AS (
    SELECT id, phone FROM ranked WHERE counted OR new_n <= $5
), reserve AS (
    INSERT INTO portfolio_contacts (portfolio, phone, last_sent_at)
    SELECT $4, phone, now() FROM chosen
    ON CONFLICT (portfolio, phone) DO UPDATE SET last_sent_at = EXCLUDED.last_sent_at
)
UPDATE messages m
SET state = 'in_flight', claim_token = $2, claimed_at = now(),
    attempts = m.attempts + 1, updated_at = now()
FROM recipients r
-- by primary key, as in claim_messages (a join to the CTE could hash the whole outbox)
WHERE m.id = ANY (ARRAY(SELECT id FROM chosen)) AND r.id = m.recipient_id
RETURNING m.id, m.phone, m.attempts, r.attrs
