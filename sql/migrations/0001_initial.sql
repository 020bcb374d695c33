-- 0001: the first schema. Forward-only; later changes go in new numbered files.

CREATE TABLE portfolios (
    name            text PRIMARY KEY,
    -- messaging-limit tier as last learned (profile, business_capability_update, quality update);
    -- NULL = unknown (the engine assumes 250 unless configured)
    tier_limit      integer,
    tier_source     text,
    paused_reason   text,
    paused_until    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE channels (
    name            text PRIMARY KEY,
    portfolio       text NOT NULL REFERENCES portfolios (name),
    base_url        text NOT NULL,
    display_phone   text,
    quality_rating  text,
    health          text,
    paused_reason   text,
    paused_until    timestamptz,
    -- the channel lease: one job sends on a channel at a time (heartbeat renews it)
    lease_owner     text,
    lease_expires_at timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audiences (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recipients (
    id              bigserial PRIMARY KEY,
    audience_id     bigint NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
    phone           text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    bsuid           text,
    attrs           jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (audience_id, phone)
);

CREATE TABLE campaigns (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    spec            jsonb NOT NULL,
    spec_hash       text NOT NULL,
    channel         text NOT NULL REFERENCES channels (name),
    audience_id     bigint NOT NULL REFERENCES audiences (id),
    template_name   text NOT NULL,
    template_language text NOT NULL,
    state           text NOT NULL DEFAULT 'scheduled'
                    CHECK (state IN ('scheduled', 'running', 'throttled', 'paused',
                                     'completed', 'cancelled', 'failed')),
    state_reason    text,
    -- what an operator asked for from another shell (pause/cancel); the job polls it
    requested_state text,
    materialized_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The outbox: one row per campaign x recipient. The row is the unit of truth.
CREATE TABLE messages (
    id              bigserial PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    recipient_id    bigint NOT NULL REFERENCES recipients (id),
    phone           text NOT NULL,
    bsuid           text,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'in_flight', 'accepted', 'failed', 'unknown',
                                     'suppressed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    retry_at        timestamptz,
    claim_token     uuid,
    claimed_at      timestamptz,
    wamid           text UNIQUE,
    message_status  text,          -- from the send response: accepted | held_for_quality_assessment | paused
    status          text,          -- from webhooks: sent | delivered | read | failed
    error_code      integer,
    error_detail    text,
    accepted_at     timestamptz,
    sent_at         timestamptz,
    delivered_at    timestamptz,
    read_at         timestamptz,
    failed_at       timestamptz,
    pricing_category text,
    pricing_type    text,
    billable        boolean,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, recipient_id)
);

-- Claim path: due rows of one campaign in id order. Partial, so finished rows cost nothing.
CREATE INDEX messages_claimable ON messages (campaign_id, id) WHERE state = 'pending';
-- Lease recovery and unknown settlement scan only these (small) sets.
CREATE INDEX messages_in_flight ON messages (campaign_id, claimed_at) WHERE state = 'in_flight';
CREATE INDEX messages_unknown ON messages (campaign_id, id) WHERE state = 'unknown';
CREATE INDEX messages_campaign_state ON messages (campaign_id, state);

-- Raw webhook bodies, stored before we answer 200.
CREATE TABLE webhook_inbox (
    id              bigserial PRIMARY KEY,
    channel         text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    body            bytea NOT NULL,
    processed_at    timestamptz,
    problem         text
);
CREATE INDEX webhook_inbox_unprocessed ON webhook_inbox (id) WHERE processed_at IS NULL;

-- Statuses whose wamid (and callback data) matched no message yet: applied when it is recorded.
CREATE TABLE pending_statuses (
    id              bigserial PRIMARY KEY,
    wamid           text NOT NULL,
    callback_data   text,
    status          text NOT NULL,
    event           jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_statuses_wamid ON pending_statuses (wamid);

CREATE TABLE suppressions (
    id              bigserial PRIMARY KEY,
    phone           text,
    bsuid           text,
    reason          text NOT NULL,
    source          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (phone IS NOT NULL OR bsuid IS NOT NULL)
);
CREATE UNIQUE INDEX suppressions_phone ON suppressions (phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX suppressions_bsuid ON suppressions (bsuid) WHERE bsuid IS NOT NULL;
