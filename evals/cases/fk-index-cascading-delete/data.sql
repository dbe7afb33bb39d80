-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.17);
INSERT INTO users (email, name, inserted_at, updated_at)
SELECT 'user' || g || '@example.com', 'User ' || g, now() - make_interval(days => g % 700), now()
FROM generate_series(1, 20000) g;
-- A few accounts have asked to be deleted: the nightly job's batch.
UPDATE users SET deletion_requested_at = now() - make_interval(hours => (id % 48)::int) WHERE id % 97 = 0;
INSERT INTO users_tokens (user_id, token, context, sent_to, inserted_at)
SELECT 1 + g % 20000, decode(md5(g::text), 'hex'), CASE WHEN g % 2 = 0 THEN 'session' ELSE 'confirm' END,
       NULL, now() - make_interval(mins => g)
FROM generate_series(1, 40000) g;
-- Thirty notifications per user on average, a heavy tail for busy accounts; nine in ten read.
INSERT INTO notifications (user_id, kind, body, read_at, inserted_at, updated_at)
SELECT 1 + floor(20000 * power(random(), 1.5))::bigint,
       (ARRAY['mention', 'comment', 'follow', 'digest'])[1 + g % 4],
       'You have a new notification #' || g,
       CASE WHEN g % 10 <> 0 THEN now() - make_interval(mins => g % 5000) END,
       now() - make_interval(mins => g), now() - make_interval(mins => g)
FROM generate_series(1, 600000) g;
