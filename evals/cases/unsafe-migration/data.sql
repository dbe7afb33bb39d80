-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.27);
-- Bulk load: the rows are consistent by construction, so skip the per-row foreign key triggers.
SET session_replication_role = replica;
INSERT INTO customers (name, email, inserted_at, updated_at)
SELECT 'Customer ' || g, 'shopper' || g || '@example.net',
       timestamp '2023-01-15' + make_interval(mins => g * 17), timestamp '2023-01-15' + make_interval(mins => g * 17)
FROM generate_series(1, 30000) g;
INSERT INTO orders (number, status, total_cents, discount_cents, customer_id, inserted_at, updated_at)
SELECT 'B' || (100000 + g),
       CASE WHEN g > 248000 THEN (ARRAY['pending','paid','shipped'])[1 + floor(random() * 3)::int]
            WHEN random() < 0.05 THEN 'cancelled' ELSE 'delivered' END,
       (1500 + floor(random() * 18000))::int,
       0,
       1 + floor(30000 * power(random(), 1.5))::int,
       timestamp '2023-02-01' + make_interval(secs => g * 190),
       timestamp '2023-02-01' + make_interval(secs => g * 190 + 3600)
FROM generate_series(1, 250000) g;
