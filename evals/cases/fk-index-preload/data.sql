-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.42);
INSERT INTO customers (name, inserted_at, updated_at)
SELECT 'Customer ' || g, now(), now() FROM generate_series(1, 2000) g;
INSERT INTO tickets (subject, status, customer_id, inserted_at, updated_at)
SELECT 'Ticket ' || g, (ARRAY['open','pending','closed','closed'])[1 + g % 4], 1 + (g % 2000),
       now() - make_interval(mins => g), now()
FROM generate_series(1, 200000) g;
-- Most tickets have a handful of comments; a few long threads.
INSERT INTO comments (body, author, ticket_id, inserted_at, updated_at)
SELECT 'Thanks, we are looking into it. ' || g, 'agent' || (g % 50), 1 + floor(200000 * power(random(), 1.3))::bigint,
       now() - make_interval(secs => g), now()
FROM generate_series(1, 900000) g;
