-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.21);
-- Four months of traffic, about 2,000 views a day, in arrival order; the nightly job keeps 90 days,
-- so the oldest weeks have already been deleted once.
INSERT INTO page_views (path, visitor_id, referrer, user_agent, inserted_at)
SELECT (ARRAY['/', '/pricing', '/docs', '/blog', '/signup', '/login', '/docs/api', '/changelog'])[1 + (g % 8)]
         || CASE WHEN g % 5 = 0 THEN '/' || (g % 300) ELSE '' END,
       1 + floor(random() * 40000)::bigint,
       CASE WHEN g % 3 = 0 THEN 'https://news.example.com/item?id=' || (g % 997) END,
       'Mozilla/5.0 (X11; Linux x86_64) Beacon/' || (g % 40),
       timestamp '2024-02-14 00:00:00' + make_interval(secs => g * 43)
FROM generate_series(1, 240000) g;
DELETE FROM page_views WHERE inserted_at < timestamp '2024-03-16 00:00:00';
