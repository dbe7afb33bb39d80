-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.71);
-- Bulk load: the rows are consistent by construction, so skip the per-row foreign key triggers.
SET session_replication_role = replica;
INSERT INTO customers (name, phone, inserted_at, updated_at)
SELECT 'Customer ' || g, '+1 555 ' || lpad((g % 10000000)::text, 7, '0'), '2023-05-02 11:00:00', '2023-05-02 11:00:00'
FROM generate_series(1, 60000) g;
-- 600 towns of very different sizes: the city (a fifth of all addresses) has six zip codes, every
-- other town one; Mapleton holds 3% of the addresses. A zip code therefore
-- determines the town.
CREATE TEMP TABLE towns AS
SELECT c, (ARRAY['River','Oak','Maple','Cedar','Pine','Lake','Hill','Spring','Fair','Green','Stone','Clear',
                 'Red','Elm','Ash','Brook','Glen','Rock','Sun','Silver'])[1 + c % 20] ||
          (ARRAY['ton','field','view','wood','dale','port','ville','burg','ford','side','haven','mont','crest',
                 'bury','ridge','mouth','stead','wick','ley','ham','gate','well','land','shore','moor','stow',
                 'brook','by','worth','hurst'])[1 + (c / 20) % 30] AS name
FROM generate_series(0, 599) c;
INSERT INTO addresses (street, city, zip, customer_id, inserted_at, updated_at)
SELECT (1 + floor(random() * 400))::int || ' ' ||
         (ARRAY['Main St','Oak Ave','Park Rd','Church St','Mill Ln','High St','Station Rd','Elm St','Lake Dr','School Ln'])[1 + floor(random() * 10)::int],
       towns.name,
       lpad((10000 + c * 40 + CASE WHEN c = 0 THEN floor(random() * 6)::int ELSE 0 END)::text, 5, '0'),
       1 + floor(random() * 60000)::int,
       '2023-05-02 11:00:00', '2023-05-02 11:00:00'
FROM (SELECT g, CASE WHEN u < 0.20 THEN 0 WHEN u < 0.23 THEN 2
                    ELSE 1 + floor(599 * power((u - 0.23) / 0.77, 2.5))::int END AS c
      FROM (SELECT g, random() AS u FROM generate_series(1, 150000) g) r) a
JOIN towns USING (c);
INSERT INTO parcels (tracking_number, status, weight_grams, address_id, inserted_at, updated_at)
SELECT '1Z' || lpad(g::text, 10, '0'),
       CASE WHEN g > 285000 THEN (ARRAY['pending','pending','pending','out_for_delivery'])[1 + floor(random() * 4)::int]
            WHEN random() < 0.02 THEN 'returned' ELSE 'delivered' END,
       (100 + floor(random() * 20000))::int,
       1 + floor(random() * 150000)::int,
       timestamp '2024-01-01 00:00:00' + make_interval(secs => g * 53),
       timestamp '2024-01-01 00:00:00' + make_interval(secs => g * 53)
FROM generate_series(1, 300000) g;
