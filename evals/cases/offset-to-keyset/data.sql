-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.64);
INSERT INTO merchants (name, country, inserted_at, updated_at)
SELECT 'Merchant ' || g, (ARRAY['DE','FR','NL','SE','ES','IT'])[1 + g % 6],
       timestamp '2023-01-30 09:00:00', timestamp '2023-01-30 09:00:00'
FROM generate_series(1, 600) g;
-- Two years of card payments, in the order they were processed.
INSERT INTO transactions (reference, amount_cents, currency, status, merchant_id, inserted_at, updated_at)
SELECT 'TX' || to_char(ts, 'YYYYMMDD') || lpad(g::text, 7, '0'), 100 + floor(random() * 40000)::int,
       (ARRAY['EUR','EUR','EUR','SEK','GBP'])[1 + floor(random() * 5)::int],
       (ARRAY['settled','settled','settled','settled','settled','settled','refunded','failed'])[1 + floor(random() * 8)::int],
       1 + floor(600 * power(random(), 2))::bigint, ts, ts
FROM (SELECT g, timestamp '2023-02-01 00:00:00' + make_interval(secs => g * 126) AS ts
      FROM generate_series(1, 500000) g) s;
