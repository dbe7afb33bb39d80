-- Deterministic: setseed fixes random() for this session.
SET synchronous_commit = on;
SELECT setseed(0.29);
INSERT INTO carriers (name, scac, inserted_at, updated_at)
SELECT 'Carrier ' || g, 'C' || lpad(g::text, 3, '0'), timestamp '2023-09-05 11:00:00', timestamp '2023-09-05 11:00:00'
FROM generate_series(1, 300) g;
-- Six months of labels in creation order; a few carriers carry most of them.
INSERT INTO shipments (tracking_number, state, weight_grams, destination_zip, destination_country, carrier_id,
                       inserted_at, updated_at)
SELECT '1Z' || lpad(g::text, 10, '0'),
       (ARRAY['label_created','in_transit','in_transit','delivered','delivered','delivered'])[1 + g % 6],
       100 + (g * 37) % 30000, lpad(((g::bigint * 7919) % 99999)::text, 5, '0'),
       (ARRAY['US','US','US','CA','MX'])[1 + g % 5],
       1 + floor(300 * power(random(), 2))::bigint, ts, ts
FROM (SELECT g, timestamp '2024-09-01 00:00:00' + make_interval(secs => g * 26) AS ts
      FROM generate_series(1, 600000) g) s;
