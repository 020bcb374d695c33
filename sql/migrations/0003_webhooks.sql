-- 0003: webhook correlation. Forward-only.

-- Rank of a webhook status for the monotonic merge; mirrors engine.core.merge.StatusRank
-- (sent < failed < delivered < read; a test checks the two agree). NULL = not a status we
-- merge (played, deleted, typos).
CREATE FUNCTION webhook_status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE status WHEN 'sent' THEN 1 WHEN 'failed' THEN 2 WHEN 'delivered' THEN 3
                       WHEN 'read' THEN 4 END
$$;

-- Pending statuses are re-checked on a backoff that grows with their age (a status that
-- raced its send response matches within ~100 ms; one that is not ours costs ever less).
ALTER TABLE pending_statuses
    ADD COLUMN campaign_id bigint,
    ADD COLUMN message_id bigint,
    ADD COLUMN next_check_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN checks integer NOT NULL DEFAULT 0;
CREATE INDEX pending_statuses_due ON pending_statuses (next_check_at);

-- 132015 failures (template paused / held messages dropped), for burst detection. A table
-- of its own rather than an index on messages: indexing messages.updated_at would make
-- every status update of the outbox a non-HOT update.
CREATE TABLE template_drops (
    id              bigserial PRIMARY KEY,
    campaign_id     bigint NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX template_drops_recent ON template_drops (received_at);

-- Last known status of each template as announced by message_template_status_update;
-- `campaign resume` reads it (REINSTATED after a PAUSED).
CREATE TABLE template_statuses (
    channel         text NOT NULL,
    template_name   text NOT NULL,
    language        text NOT NULL DEFAULT '',
    status          text NOT NULL,
    reason          text,
    event           jsonb NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_name, language, channel)
);

-- Last quality / account announcement per channel (phone_number_quality_update.event,
-- account_update.event), for the governance work; the full events are kept below.
ALTER TABLE channels
    ADD COLUMN quality_event text,
    ADD COLUMN account_event text,
    ADD COLUMN governance_at timestamptz;

-- Quality, tier, capability and account announcements, kept verbatim for governance.
CREATE TABLE governance_events (
    id              bigserial PRIMARY KEY,
    channel         text NOT NULL,
    field           text NOT NULL,
    event           text,
    payload         jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX governance_events_channel ON governance_events (channel, id);
