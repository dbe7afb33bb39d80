-- Deterministic: setseed fixes random() for this session.
SELECT setseed(0.19);
INSERT INTO sections (name, slug, inserted_at, updated_at) VALUES
  ('Politics', 'politics', '2023-08-18 14:00:00', '2023-08-18 14:00:00'),
  ('City', 'city', '2023-08-18 14:00:00', '2023-08-18 14:00:00'),
  ('Business', 'business', '2023-08-18 14:00:00', '2023-08-18 14:00:00'),
  ('Sports', 'sports', '2023-08-18 14:00:00', '2023-08-18 14:00:00'),
  ('Culture', 'culture', '2023-08-18 14:00:00', '2023-08-18 14:00:00'),
  ('Opinion', 'opinion', '2023-08-18 14:00:00', '2023-08-18 14:00:00'),
  ('Science', 'science', '2023-08-18 14:00:00', '2023-08-18 14:00:00'),
  ('Travel', 'travel', '2023-08-18 14:00:00', '2023-08-18 14:00:00');

-- Article text: paragraphs of newsroom vocabulary, 8 to 20 per article (5-13 KB of body each).
CREATE TEMP TABLE vocab AS
SELECT row_number() OVER () AS i, w
FROM unnest(string_to_array('the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were her she there been one all we their has would when if so no will more can who said its than into them only also some time could these two may first then do any like my now over such our even most made after new other years just where those well because through back still much before here good how between own many under last year government city people state council police report market school health water house public policy minister company budget plan week month day night morning evening court vote election party support officials workers residents program project data study research hospital patients doctors teachers students parents children families business industry prices costs energy climate weather storm fire road traffic transit rail airport bridge river park festival museum music film art theater book team season game coach players league match goal points win loss record history war peace law rights justice union strike talks deal agreement rules review process change growth decline rise fall increase decrease million billion percent number average rate level area region district county neighborhood street community service center office board committee member leader director president mayor governor senator chief spokesperson statement interview question answer issue problem solution effort response decision action step measure approach strategy system network technology software platform users online digital social media news story reader editor reporter column opinion letter', ' ')) AS w;
CREATE TEMP TABLE paragraphs AS
SELECT p, initcap(string_agg(w, ' ' ORDER BY k)) || '.' AS txt
FROM (SELECT p, k, 1 + floor(random() * 260)::int AS wi
      FROM generate_series(1, 3000) p, generate_series(1, 95) k) s
JOIN vocab ON vocab.i = s.wi
GROUP BY p;
ALTER TABLE vocab ADD PRIMARY KEY (i);
ALTER TABLE paragraphs ADD PRIMARY KEY (p);
ANALYZE vocab;
ANALYZE paragraphs;

-- Politics and City publish most; about 3% are unpublished drafts.
INSERT INTO articles (title, slug, byline, summary, body, reading_minutes, published_at, section_id, inserted_at, updated_at)
SELECT 'Story ' || g || ': ' || initcap((SELECT w FROM vocab WHERE i = 1 + (g * 31) % 260)) || ' ' ||
         (SELECT w FROM vocab WHERE i = 1 + (g * 17) % 260),
       'story-' || g,
       'Reporter ' || (1 + g % 140),
       (SELECT left(txt, 180) || '…' FROM paragraphs WHERE p = 1 + (g * 13) % 3000),
       (SELECT string_agg(txt, E'\n\n' ORDER BY k)
          FROM generate_series(1, 8 + (g * 7) % 13) k
          JOIN paragraphs ON paragraphs.p = 1 + ((g * 7919 + k * 104729) % 3000)),
       4 + (g * 7) % 13 / 2,
       CASE WHEN g % 33 = 0 THEN NULL ELSE timestamp '2024-06-10 08:00:00' - make_interval(hours => 18000 - g) END,
       (ARRAY[1,1,1,1,1,1,2,2,2,2,3,3,3,4,4,5,6,7,8,8])[1 + (g * 11) % 20],
       timestamp '2024-06-10 07:00:00' - make_interval(hours => 18000 - g),
       timestamp '2024-06-10 07:00:00' - make_interval(hours => 18000 - g)
FROM generate_series(1, 18000) g;
