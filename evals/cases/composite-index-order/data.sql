-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.31);
-- Account 1 is Acme, the biggest customer; account sizes fall off steeply after it.
INSERT INTO accounts (name, plan, inserted_at, updated_at)
SELECT CASE WHEN g = 1 THEN 'Acme Corp' ELSE 'Account ' || g END,
       CASE WHEN g <= 40 THEN 'enterprise' WHEN g <= 600 THEN 'team' ELSE 'starter' END,
       timestamp '2023-10-02 12:00:00' + make_interval(hours => g), timestamp '2023-10-02 12:00:00' + make_interval(hours => g)
FROM generate_series(1, 3000) g;
-- A year of activity, in time order, ending 2025-03-01 09:00; account ids skewed towards the big customers.
INSERT INTO events (name, subject_type, subject_id, actor_id, occurred_at, account_id, inserted_at)
SELECT (ARRAY['invoice.created','invoice.sent','invoice.paid','customer.updated','user.signed_in','report.exported','payment.failed','invoice.created'])[1 + (g % 8)],
       (ARRAY['Invoice','Invoice','Invoice','Customer','User','Report','Payment','Invoice'])[1 + (g % 8)],
       1 + (g::bigint * 7919) % 400000,
       1 + floor(random() * 60000)::bigint,
       ts, 1 + floor(3000 * power(random(), 3))::bigint, ts
FROM (SELECT g, timestamp '2024-03-01 09:00:00' + make_interval(secs => g * 31.5) AS ts
      FROM generate_series(1, 1000000) g) s;
