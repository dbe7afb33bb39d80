-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.61);
-- Bulk load: the rows are consistent by construction, so skip the per-row foreign key triggers.
SET session_replication_role = replica;
INSERT INTO customers (name, email, inserted_at, updated_at)
SELECT 'Customer ' || g, 'customer' || g || '@example.com',
       timestamp '2023-01-01' + make_interval(mins => g * 9), timestamp '2023-01-01' + make_interval(mins => g * 9)
FROM generate_series(1, 40000) g;
-- 300k orders over 15 months; repeat buyers order far more often than the rest. The first 90k
-- came over from the old shop system and carry its reference.
INSERT INTO orders (number, status, total_cents, legacy_ref, customer_id, inserted_at, updated_at)
SELECT 'ORD-' || lpad(g::text, 9, '0'),
       CASE WHEN g > 297000 THEN (ARRAY['pending','paid','paid','shipped'])[1 + floor(random() * 4)::int]
            WHEN random() < 0.04 THEN 'cancelled'
            ELSE 'delivered' END,
       (900 + floor(random() * 25000))::int,
       CASE WHEN g <= 90000 THEN 'SHOP1-' || (500000 + g) END,
       1 + floor(40000 * power(random(), 1.8))::int,
       timestamp '2023-03-01' + make_interval(secs => g * 130),
       timestamp '2023-03-01' + make_interval(secs => g * 130 + 86400)
FROM generate_series(1, 300000) g;
