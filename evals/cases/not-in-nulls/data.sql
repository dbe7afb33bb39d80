-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.83);
-- Bulk load: the rows are consistent by construction, so skip the per-row foreign key triggers.
SET session_replication_role = replica;
-- 60k sign-ups from Feb 2023 to mid June 2024, one every 12 minutes; 70% accept marketing mail.
INSERT INTO customers (name, email, marketing_opt_in, inserted_at, updated_at)
SELECT 'Customer ' || g, 'customer' || g || '@example.org', random() < 0.7,
       timestamp '2023-02-01 00:00:00' + make_interval(secs => g * 718),
       timestamp '2023-02-01 00:00:00' + make_interval(secs => g * 718)
FROM generate_series(1, 60000) g;
-- 250k orders over the same period, each from someone who had signed up by then (recent sign-ups
-- buy more). A third of the customers never order. Guest checkout went live on 2024-06-03:
-- since then about 15% of orders have no customer.
INSERT INTO orders (total_cents, status, customer_id, guest_email, inserted_at, updated_at)
SELECT (1200 + floor(random() * 15000))::int,
       CASE WHEN random() < 0.03 THEN 'refunded' ELSE 'paid' END,
       CASE WHEN guest THEN NULL ELSE CASE WHEN cid % 3 = 0 THEN cid - 1 ELSE cid END END,
       CASE WHEN guest THEN 'guest' || g || '@mail.example' END,
       at, at
FROM (SELECT g, at,
             at >= timestamp '2024-06-03 15:30:00' AND random() < 0.15 AS guest,
             1 + floor(greatest(1, floor(g * 0.2396)) * power(random(), 0.6))::int AS cid
      FROM (SELECT g, timestamp '2023-02-01 00:00:00' + make_interval(secs => g * 172) AS at
            FROM generate_series(1, 250000) g) t) s;
