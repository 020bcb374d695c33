-- name: report_by_status
-- One final status per row: the webhook status for accepted rows, else the outbox state.
SELECT CASE WHEN state = 'accepted' THEN COALESCE(status, 'accepted') ELSE state END AS status,
       count(*) AS n
FROM messages WHERE campaign_id = $1
GROUP BY 1

-- name: report_funnel
SELECT
    count(*) AS recipients,
    count(wamid) AS accepted,
    count(*) FILTER (WHERE sent_at IS NOT NULL OR delivered_at IS NOT NULL
                        OR read_at IS NOT NULL) AS sent,
    count(*) FILTER (WHERE delivered_at IS NOT NULL OR read_at IS NOT NULL) AS delivered,
    count(*) FILTER (WHERE read_at IS NOT NULL) AS read,
    count(*) FILTER (WHERE state = 'failed') AS failed,
    count(*) FILTER (WHERE state = 'suppressed') AS suppressed,
    count(*) FILTER (WHERE state = 'unknown') AS unknown,
    count(*) FILTER (WHERE state IN ('pending', 'in_flight')) AS pending,
    count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
    count(*) FILTER (WHERE message_status = 'held_for_quality_assessment') AS held
FROM messages WHERE campaign_id = $1

-- name: report_failed_by_code
SELECT COALESCE(error_code::text, NULLIF(split_part(error_detail, ':', 1), ''), 'unspecified')
           AS code,
       count(*) AS n
FROM messages WHERE campaign_id = $1 AND state = 'failed'
GROUP BY 1 ORDER BY 2 DESC

-- name: report_rows
SELECT m.id, m.phone, m.bsuid, m.state, m.status, m.wamid, m.message_status, m.attempts,
       m.error_code, m.error_detail, m.accepted_at, m.sent_at, m.delivered_at, m.read_at,
       m.failed_at
FROM messages m WHERE m.campaign_id = $1 ORDER BY m.id

-- name: count_inbox_backlog
SELECT count(*) FROM webhook_inbox WHERE processed_at IS NULL
