-- name: list_campaigns
SELECT c.id, c.name, c.state, c.state_reason, c.channel, c.template_name,
       c.created_at, c.started_at, c.finished_at,
       (SELECT count(*) FROM messages m WHERE m.campaign_id = c.id) AS recipients
FROM campaigns c
WHERE $1::text IS NULL OR c.name = $1
ORDER BY c.id

-- name: count_messages_by_state
SELECT state, count(*) AS n FROM messages WHERE campaign_id = $1 GROUP BY state
