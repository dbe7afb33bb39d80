-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.88);
INSERT INTO teams (name, inserted_at, updated_at)
SELECT CASE WHEN g = 7 THEN 'Platform' ELSE 'Team ' || g END, timestamp '2024-09-02 11:00:00', timestamp '2024-09-02 11:00:00'
FROM generate_series(1, 400) g;
-- Team 7 (Platform) runs many projects at once; most teams have a couple of dozen, some long archived.
INSERT INTO projects (name, archived_at, team_id, inserted_at, updated_at)
SELECT 'Project ' || g,
       CASE WHEN random() < 0.3 THEN timestamp '2024-09-10 00:00:00' + make_interval(hours => g % 4000) END,
       CASE WHEN g % 170 = 0 THEN 7 ELSE 1 + (g * 37) % 400 END,
       timestamp '2024-09-02 11:00:00' + make_interval(mins => g * 7), timestamp '2024-09-02 11:00:00' + make_interval(mins => g * 7)
FROM generate_series(1, 12000) g;
INSERT INTO cards (title, status, position, project_id, inserted_at, updated_at)
SELECT 'Card ' || g, (ARRAY['done','done','done','done','todo','doing','review','todo'])[1 + floor(random() * 8)::int],
       g % 1000, 1 + floor(random() * 12000)::bigint,
       timestamp '2024-09-03 00:00:00' + make_interval(secs => g * 40), timestamp '2024-09-03 00:00:00' + make_interval(secs => g * 40)
FROM generate_series(1, 360000) g;
