-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.73);
INSERT INTO accounts (name, billing_email, inserted_at, updated_at)
SELECT 'Account ' || g, 'billing' || g || '@example.com', timestamp '2022-09-05 14:00:00' + make_interval(hours => g),
       timestamp '2022-09-05 14:00:00' + make_interval(hours => g)
FROM generate_series(1, 2000) g;
-- Two and a half years of documents up to 2025-03-01. Old ones were signed, declined or expired
-- long ago; only recent ones can still be waiting for a signature. Abandoned drafts and
-- cancelled requests are soft-deleted.
INSERT INTO documents (title, status, signer_email, sent_at, account_id, inserted_at, updated_at, deleted_at)
SELECT 'Agreement ' || g, status, 'signer' || (g % 90000) || '@example.net',
       CASE WHEN status <> 'draft' THEN created + interval '25 minutes' END,
       1 + floor(2000 * power(random(), 2))::bigint, created, created + interval '2 days',
       CASE WHEN (status = 'draft' AND r < 0.55) OR (status = 'pending' AND r < 0.12) OR r < 0.04
            THEN created + interval '3 days' END
FROM (SELECT g, created, r,
             CASE WHEN created > timestamp '2025-02-14 00:00:00' THEN
                    CASE WHEN p < 0.30 THEN 'pending' WHEN p < 0.82 THEN 'signed' WHEN p < 0.92 THEN 'draft' ELSE 'declined' END
                  ELSE
                    CASE WHEN p < 0.76 THEN 'signed' WHEN p < 0.84 THEN 'declined' WHEN p < 0.93 THEN 'expired' ELSE 'draft' END
             END AS status
      FROM (SELECT g, random() AS p, random() AS r,
                   timestamp '2022-09-06 00:00:00' + make_interval(secs => g * 130.6) AS created
            FROM generate_series(1, 600000) g) s0) s;
