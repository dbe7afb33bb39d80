-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.33);
INSERT INTO conversations (subject, customer_name, status, inserted_at, updated_at)
SELECT 'Question about order #' || (10000 + g), 'Customer ' || g,
       CASE WHEN g % 4 = 0 THEN 'closed' ELSE 'open' END,
       timestamp '2024-01-10 08:00:00' + make_interval(mins => g * 7),
       timestamp '2024-01-10 08:00:00' + make_interval(mins => g * 7)
FROM generate_series(1, 6000) g;
-- 150k messages spread over the conversations; long threads for some.
INSERT INTO messages (conversation_id, body, sender, inserted_at, updated_at)
SELECT 1 + floor(6000 * power(random(), 0.7))::bigint,
       'Message ' || g || ': ' || repeat('thanks for getting back to us ', 1 + g % 4),
       CASE WHEN g % 2 = 0 THEN 'agent' ELSE 'customer' END,
       timestamp '2024-01-10 08:00:00' + make_interval(secs => g * 17),
       timestamp '2024-01-10 08:00:00' + make_interval(secs => g * 17)
FROM generate_series(1, 150000) g;
-- The inbox orders by activity: a conversation was last updated by its latest message.
UPDATE conversations c SET updated_at = m.latest
FROM (SELECT conversation_id, max(inserted_at) AS latest FROM messages GROUP BY conversation_id) m
WHERE m.conversation_id = c.id;
