-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.57);
-- Signups over three years; accounts from before the 2024 signup rewrite kept the casing people typed.
INSERT INTO users (email, name, hashed_password, confirmed_at, last_login_at, inserted_at, updated_at)
SELECT CASE WHEN g % 13 = 0 THEN initcap(f) || '.' || initcap(l) || g || '@' || d
            WHEN g % 29 = 0 THEN upper(left(f, 1)) || l || g || '@' || d
            ELSE f || '.' || l || g || '@' || d END,
       initcap(f) || ' ' || initcap(l),
       '$2b$12$' || md5(g::text) || md5((g * 7)::text),
       CASE WHEN random() < 0.9 THEN ts + interval '20 minutes' END,
       CASE WHEN random() < 0.7 THEN timestamp '2025-02-28 00:00:00' - make_interval(mins => floor(random() * 500000)::int) END,
       ts, ts
FROM (SELECT g,
             (ARRAY['anna','ben','carla','dana','emil','fatima','george','hana','ivan','julia','karim','lena','marco','nina','omar','petra','quinn','rosa','sven','tara'])[1 + g % 20] AS f,
             (ARRAY['kowalski','smith','garcia','müller','nguyen','rossi','dubois','silva','jensen','novak','tanaka','oconnor','haddad','berg','costa','fischer','ivanova','lopez','meyer','walsh','adams','baker','clark'])[1 + (g / 20) % 23] AS l,
             (ARRAY['example.org','mail.test','inbox.test','example.com','post.test'])[1 + (g / 7) % 5] AS d,
             timestamp '2022-03-01 08:00:00' + make_interval(mins => g * 5) AS ts
      FROM generate_series(1, 300000) g) s;
-- The customer from the login report.
INSERT INTO users (email, name, hashed_password, confirmed_at, last_login_at, inserted_at, updated_at)
VALUES ('Dana.Kowalski@example.org', 'Dana Kowalski', '$2b$12$' || md5('dana'), timestamp '2023-05-02 10:31:00',
        timestamp '2025-02-27 18:02:11', timestamp '2023-05-02 10:11:00', timestamp '2025-02-27 18:02:11');
-- People who signed up twice with different casing before emails were normalised.
INSERT INTO users (email, name, hashed_password, confirmed_at, inserted_at, updated_at)
SELECT upper(left(email, 1)) || substr(email, 2), name, '$2b$12$' || md5(email), NULL,
       inserted_at + interval '400 days', inserted_at + interval '400 days'
FROM users WHERE id % 9973 = 0 AND email = lower(email);
INSERT INTO newsletters (title, slug, user_id, inserted_at, updated_at)
SELECT 'Dispatch #' || g, 'dispatch-' || g, 1 + (g * 149) % 300000, timestamp '2023-01-01 00:00:00' + make_interval(hours => g),
       timestamp '2023-01-01 00:00:00' + make_interval(hours => g)
FROM generate_series(1, 4000) g;
