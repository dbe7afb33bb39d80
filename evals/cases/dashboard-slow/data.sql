-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.17);
INSERT INTO customers (name, inserted_at, updated_at)
SELECT 'Customer ' || g, now(), now() FROM generate_series(1, 2000) g;
INSERT INTO agents (name, email, inserted_at, updated_at)
SELECT 'Agent ' || g, 'agent' || g || '@helpdesk.test', now(), now() FROM generate_series(1, 200) g;
-- Most tickets are closed; open ones are spread over 200 agents.
INSERT INTO tickets (subject, status, priority, customer_id, assignee_id, inserted_at, updated_at)
SELECT 'Ticket ' || g, (ARRAY['open','pending','closed','closed','closed','closed','closed','closed'])[1 + g % 8],
       g % 4, 1 + (g % 2000), 1 + floor(200 * random())::bigint,
       now() - make_interval(mins => g), now()
FROM generate_series(1, 300000) g;
INSERT INTO comments (body, author, ticket_id, inserted_at, updated_at)
SELECT 'Thanks, we are looking into it. ' || g, 'agent' || (g % 50), 1 + floor(300000 * power(random(), 1.3))::bigint,
       now() - make_interval(secs => g), now()
FROM generate_series(1, 900000) g;
