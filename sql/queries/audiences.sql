-- name: create_import_staging
CREATE TEMP TABLE import_staging (
    line integer NOT NULL,
    phone text NOT NULL,
    bsuid text,
    attrs jsonb NOT NULL
) ON COMMIT DROP

-- name: upsert_audience
INSERT INTO audiences (name) VALUES ($1)
ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
RETURNING id

-- name: insert_recipients_from_staging
-- DISTINCT ON keeps the first line of each phone; ON CONFLICT drops phones the audience
-- already has (a re-import adds only new recipients).
INSERT INTO recipients (audience_id, phone, bsuid, attrs)
SELECT DISTINCT ON (phone) $1::bigint, phone, bsuid, attrs
FROM import_staging
ORDER BY phone, line
ON CONFLICT (audience_id, phone) DO NOTHING

-- name: list_audiences
SELECT a.name, a.created_at, count(r.id) AS recipients
FROM audiences a LEFT JOIN recipients r ON r.audience_id = a.id
GROUP BY a.id ORDER BY a.name
