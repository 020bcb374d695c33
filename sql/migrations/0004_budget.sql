-- 0004: messaging-limit budget. Forward-only.

-- One row per (portfolio, recipient) with the last time a business-initiated template was
-- sent (or reserved to be sent) to them. Meta's messaging limit counts unique recipients in
-- a moving 24 h per business portfolio, shared by every number and campaign of it, so the
-- count lives here, in the database, not in one job's memory.
CREATE TABLE portfolio_contacts (
    portfolio       text NOT NULL,
    phone           text NOT NULL,
    last_sent_at    timestamptz NOT NULL,
    PRIMARY KEY (portfolio, phone)
);
CREATE INDEX portfolio_contacts_recent ON portfolio_contacts (portfolio, last_sent_at);
