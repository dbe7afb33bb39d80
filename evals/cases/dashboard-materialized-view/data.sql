-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.57);
INSERT INTO products (name, category, price_cents, inserted_at, updated_at)
SELECT 'Product ' || g, (ARRAY['books', 'garden', 'kitchen', 'toys', 'tools', 'music', 'office', 'sports'])[1 + g % 8],
       500 + (g * 37) % 9500, timestamp '2023-03-01', timestamp '2023-03-01'
FROM generate_series(1, 400) g;
-- Nine months of orders, one every 9 minutes; 85% paid, the rest pending or refunded.
INSERT INTO orders (status, customer_email, inserted_at, updated_at)
SELECT CASE WHEN random() < 0.85 THEN 'paid' WHEN random() < 0.5 THEN 'refunded' ELSE 'pending' END,
       'buyer' || (g % 20000) || '@example.com',
       timestamp '2023-01-01' + make_interval(secs => g * 540), timestamp '2023-01-01' + make_interval(secs => g * 540)
FROM generate_series(1, 50000) g;
-- One to four items per order.
INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, inserted_at, updated_at)
SELECT o.id, 1 + floor(random() * 400)::bigint, 1 + floor(random() * 3)::int, 500 + floor(random() * 9500)::int,
       o.inserted_at, o.inserted_at
FROM orders o, generate_series(1, 4) k
WHERE k <= 1 + (o.id % 4);
