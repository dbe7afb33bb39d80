-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.19);
INSERT INTO stores (name, currency, inserted_at, updated_at)
SELECT CASE WHEN g = 1 THEN 'Nordic Outfitters' ELSE 'Store ' || g END, (ARRAY['EUR','EUR','SEK','GBP'])[1 + g % 4],
       timestamp '2024-03-18 08:00:00', timestamp '2024-03-18 08:00:00'
FROM generate_series(1, 40) g;
INSERT INTO customers (name, email, inserted_at, updated_at)
SELECT 'Customer ' || g, 'customer' || g || '@example.com',
       timestamp '2024-03-18 08:00:00' + make_interval(mins => g * 2), timestamp '2024-03-18 08:00:00' + make_interval(mins => g * 2)
FROM generate_series(1, 120000) g;
-- Most orders come from a few big stores; customers are spread widely, few order twice in a row.
INSERT INTO orders (number, status, total_cents, store_id, customer_id, inserted_at, updated_at)
SELECT 'SO-' || lpad(g::text, 7, '0'),
       (ARRAY['delivered','delivered','delivered','shipped','paid','placed','refunded'])[1 + floor(random() * 7)::int],
       500 + floor(random() * 25000)::int,
       1 + floor(40 * power(random(), 2.5))::bigint,
       1 + floor(random() * 120000)::bigint,
       ts, ts
FROM (SELECT g, timestamp '2024-03-20 00:00:00' + make_interval(secs => g * 95) AS ts
      FROM generate_series(1, 300000) g) s;
