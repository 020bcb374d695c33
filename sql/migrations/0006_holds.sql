-- Holds: what stops sending beyond one campaign's own state. A hold has a scope (one
-- campaign, a channel = one phone number, a portfolio, or a template within a portfolio),
-- a reason and a source, and lasts until `until` (timed, e.g. 131057 maintenance) or until
-- it is lifted (by `campaign resume`, or by the webhook that ends it: UNFLAGGED, REINSTATED).
-- Jobs read the active holds covering their campaign every control tick, so a hold placed
-- by one job, or by the webhook correlator, stops every job it covers within a second; a
-- job started later refuses to send while an untimed hold covers it.
CREATE TABLE holds (
    id              bigserial PRIMARY KEY,
    scope           text NOT NULL CHECK (scope IN ('campaign', 'channel', 'portfolio', 'template')),
    campaign_id     bigint,
    channel         text,
    portfolio       text,
    template_name   text,
    reason          text NOT NULL,
    source          text NOT NULL,
    until           timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    lifted_at       timestamptz,
    lifted_by       text,
    CHECK (scope <> 'campaign' OR campaign_id IS NOT NULL),
    CHECK (scope <> 'channel' OR channel IS NOT NULL),
    CHECK (scope <> 'portfolio' OR portfolio IS NOT NULL),
    CHECK (scope <> 'template' OR template_name IS NOT NULL)
);
CREATE INDEX holds_active ON holds (scope) WHERE lifted_at IS NULL;

-- Failed statuses that count towards a burst pause: 132015 per template (as before) and
-- 131048 (spam rate limit) per channel.
ALTER TABLE template_drops RENAME TO status_failures;
ALTER INDEX template_drops_recent RENAME TO status_failures_recent;
ALTER TABLE status_failures ADD COLUMN code integer NOT NULL DEFAULT 132015;

-- Whether a hold covers a campaign (inlined by the planner): the one definition every query
-- about holds uses. A template hold without a portfolio covers the template everywhere.
CREATE FUNCTION hold_covers(
    h_scope text, h_campaign bigint, h_channel text, h_portfolio text, h_template text,
    c_id bigint, c_channel text, c_portfolio text, c_template text
) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE h_scope
        WHEN 'campaign' THEN h_campaign = c_id
        WHEN 'channel' THEN h_channel = c_channel
        WHEN 'portfolio' THEN h_portfolio = c_portfolio
        WHEN 'template' THEN h_template = c_template
                             AND (h_portfolio IS NULL OR h_portfolio = c_portfolio)
        ELSE false
    END
$$;
