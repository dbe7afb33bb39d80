-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.37);
-- Bulk load: the rows are consistent by construction, so skip the per-row foreign key triggers.
SET session_replication_role = replica;
INSERT INTO accounts (code, name, kind, inserted_at, updated_at)
SELECT (1000 + g * 10)::text, 'Account ' || (1000 + g * 10),
       (ARRAY['asset','liability','equity','revenue','expense'])[1 + g % 5],
       '2023-01-05 09:00:00', '2023-01-05 09:00:00'
FROM generate_series(1, 400) g;
-- 225k journals of two lines each (debit and credit) from July 2023 to June 2024. Entries are
-- recorded in order but often posted with an earlier date (backdated by up to six hours).
INSERT INTO entries (journal_ref, amount_cents, currency, memo, posted_at, account_id, inserted_at, updated_at)
SELECT 'J' || lpad(j::text, 7, '0'),
       CASE WHEN line = 1 THEN amount ELSE -amount END,
       CASE WHEN j % 17 = 0 THEN 'USD' ELSE 'EUR' END,
       (ARRAY['Invoice ', 'Payment received for invoice ', 'Supplier bill ', 'Payroll run ', 'Bank fee, statement ',
              'Card settlement batch ', 'Refund for order '])[1 + (j + line) % 7] || (20000 + j % 90000) ||
         ' - ' || (ARRAY['Northwind Traders GmbH', 'Contoso Facilities Ltd', 'Blue Harbor Logistics',
                         'Fabrikam Office Supply', 'Tailspin Travel AG', 'Litware Consulting'])[1 + j % 6] ||
         ' / ref ' || upper(left(md5(j::text), 12)) ||
         CASE WHEN j % 5 = 0 THEN ', adjusted after month-end reconciliation' ELSE '' END,
       recorded - make_interval(mins => backdate),
       CASE WHEN line = 1 THEN 1 + (j * 7) % 400 ELSE 1 + (j * 13 + 5) % 400 END,
       recorded, recorded
FROM (SELECT j, (100 + floor(random() * 500000))::bigint AS amount,
             CASE WHEN random() < 0.2 THEN floor(random() * 360)::int ELSE 0 END AS backdate,
             timestamp '2023-07-01 00:00:00' + make_interval(secs => j * 140) AS recorded
      FROM generate_series(1, 225000) j) journals,
     generate_series(1, 2) line
ORDER BY j, line;
