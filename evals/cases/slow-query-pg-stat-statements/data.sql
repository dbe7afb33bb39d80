-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.17);
INSERT INTO carriers (name, code, inserted_at, updated_at)
SELECT 'Carrier ' || g, 'C' || g, now(), now() FROM generate_series(1, 6) g;
-- Six carriers share 360k shipments, so the carrier_id index narrows a lookup to ~60k rows.
INSERT INTO shipments (tracking_number, status, destination_zip, carrier_id, inserted_at, updated_at)
SELECT 'TRK' || lpad(g::text, 9, '0'),
       (ARRAY['delivered','delivered','delivered','in_transit','out_for_delivery','label_created','exception'])[1 + floor(random() * 7)::int],
       lpad((10000 + floor(random() * 89999))::int::text, 5, '0'),
       1 + g % 6,
       now() - make_interval(mins => g), now()
FROM generate_series(1, 360000) g;
