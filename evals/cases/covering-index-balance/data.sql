-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.17);
INSERT INTO customers (name, email, currency, inserted_at, updated_at)
SELECT 'Customer ' || g, 'billing' || g || '@customer' || g || '.example',
       CASE WHEN g % 7 = 0 THEN 'USD' ELSE 'EUR' END,
       timestamp '2021-01-04 09:00:00' + make_interval(hours => g), timestamp '2021-01-04 09:00:00' + make_interval(hours => g)
FROM generate_series(1, 3000) g;
-- Three years of invoices, about 200 per customer, each customer's spread over the whole table;
-- one in twelve is a credit note.
INSERT INTO invoices (number, amount_cents, status, issued_on, memo, customer_id, inserted_at, updated_at)
SELECT 'INV-' || lpad(g::text, 7, '0'),
       CASE WHEN g % 12 = 0 THEN -(1000 + floor(random() * 20000)::bigint) ELSE 1000 + floor(random() * 250000)::bigint END,
       CASE WHEN g > 580000 THEN 'open' ELSE 'paid' END,
       (date '2022-01-03' + (g / 550)),
       'Services rendered, period ' || (g % 36) || ', reference ' || md5(g::text),
       1 + (g::bigint * 7919) % 3000, ts, ts
FROM (SELECT g, timestamp '2022-01-03 08:00:00' + make_interval(secs => g * 157) AS ts
      FROM generate_series(1, 600000) g) s;
