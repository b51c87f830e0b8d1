-- The bench data set, generated in PostgreSQL (text/template: .Users, .Tasks, .HeavyTasks).
-- Every value derives from hashes of the row's numbers, so two runs (or two builds' databases)
-- hold the same rows. Runs as a superuser: RLS does not apply, and session_replication_role =
-- replica skips the foreign-key triggers (the generated keys are consistent by construction).
SET synchronous_commit = off;
SET session_replication_role = replica;
SET maintenance_work_mem = '256MB';

-- The secondary indexes of tasks and task_tags (those backing no constraint) are dropped for the
-- load and built again after it: building the nine indexes of 450,000 tasks once is about twice
-- as fast as maintaining them row by row. Their definitions come from the catalog, so a migration
-- that adds or changes one needs no change here.
CREATE TEMP TABLE seed_indexes AS
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
WHERE c.relname IN ('tasks', 'task_tags') AND c.relnamespace = 'public'::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid);
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT name FROM seed_indexes LOOP EXECUTE 'DROP INDEX ' || r.name; END LOOP;
END $$;

-- Users 1..Users are regular; user 0 is the heavy one.
INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt", uuid)
SELECT 'bench-user-' || u, 'Bench User ' || u, 'user' || u || '@bench.example', true,
       timestamptz '2025-01-01 00:00Z', timestamptz '2025-01-01 00:00Z', md5('user' || u)::uuid
FROM generate_series(0, {{.Users}}) u;

INSERT INTO tags (user_uuid, id, name, color, created_at)
SELECT md5('user' || u)::uuid, md5('tag' || u || '-' || k)::uuid,
       (ARRAY['Work', 'Home', 'Errands', 'Health', 'Finance', 'Reading', 'Ideas', 'Urgent'])[k + 1],
       CASE WHEN k % 3 = 0 THEN NULL ELSE '#' || substr(md5('color' || u || '-' || k), 1, 6) END,
       timestamptz '2025-01-01 00:00Z' + k * interval '1 minute'
FROM generate_series(0, {{.Users}}) u, generate_series(0, 7) k;

-- n is each user's task count; h1..h3 are independent hashes of (user, task).
CREATE TEMP TABLE seed_tasks AS
SELECT u, j, n,
       abs(hashint8(u::bigint * 1000003 + j)) AS h1,
       abs(hashint8(u::bigint * 1000003 + j + 500000000000)) AS h2,
       abs(hashint8(u::bigint * 1000003 + j + 900000000000)) AS h3
FROM (SELECT u, CASE WHEN u = 0 THEN {{.HeavyTasks}} ELSE {{.Tasks}} END AS n
      FROM generate_series(0, {{.Users}}) u) us,
     LATERAL generate_series(1, n) j;

INSERT INTO tasks (user_uuid, id, title, description, completed_at, priority, due_at, created_at, updated_at)
SELECT md5('user' || u)::uuid, md5('task' || u || '-' || j)::uuid, title, description,
       CASE WHEN h2 % 10 < 3 THEN created_at + (h2 % 500) * interval '1 hour' END,
       CASE WHEN h2 % 2 = 1 THEN (1 + (h2 / 2) % 4)::smallint END,
       CASE WHEN h3 % 3 <> 0 THEN created_at + (h3 % 90) * interval '1 day' + interval '17 hours' END,
       created_at, created_at + (h3 % 86400) * interval '1 second'
FROM (
  SELECT u, j, h2, h3,
         -- Newest last: a user's tasks span about a year (the heavy user's three), in order of j.
         timestamptz '2026-11-30 12:00Z'
           - (n - j) * CASE WHEN u = 0 THEN interval '31 minutes' ELSE interval '43 hours' END
           - (h1 % 600) * interval '1 second' AS created_at,
         CASE WHEN h1 % 100 = 0
           THEN 'Send the ' || (ARRAY['weekly', 'monthly', 'quarterly', 'expense', 'incident'])[1 + (h1 / 100) % 5]
                || ' report to ' || (ARRAY['Dana', 'the team', 'finance', 'Marco', 'the board'])[1 + (h1 / 500) % 5]
           ELSE (ARRAY['Call', 'Email', 'Review', 'Fix', 'Plan', 'Book', 'Buy', 'Write', 'Update', 'Clean',
                       'Schedule', 'Prepare', 'Check', 'Renew', 'Organize', 'Pay'])[1 + h1 % 16]
                || ' ' ||
                (ARRAY['the dentist appointment', 'quarterly budget', 'kitchen sink', 'flight to Lisbon',
                       'birthday present for Sam', 'pull request #' || (h1 % 900 + 100), 'car insurance',
                       'onboarding checklist', 'garden fence', 'team offsite agenda', 'tax documents',
                       'laptop backup', 'library books', 'conference talk slides', 'gym membership',
                       'grocery list', 'landing page copy', 'server certificates', 'passport photos',
                       'newsletter draft'])[1 + (h1 / 16) % 20]
                || (ARRAY['', '', ' before Friday', ' this week', ' with Alex', ' tomorrow morning',
                          ' after lunch', ' (again)'])[1 + (h1 / 320) % 8]
         END AS title,
         CASE
           WHEN h3 % 5 = 0 THEN NULL
           ELSE (ARRAY['Remember to bring the receipts and the signed form from last time.',
                       'Alex said the second option is cheaper but takes two weeks longer.',
                       'Check the shared drive first; the old version may still be there.',
                       'Needs a decision by the end of the month, otherwise we lose the slot.',
                       'Low effort, but it keeps slipping. Just do it in the morning.',
                       'Ask Dana whether the numbers from the spring still hold.'])[1 + h3 % 6]
                || ' ' ||
                (ARRAY['Budget is tight, so compare at least three offers.',
                       'Link: https://example.com/notes/' || (h3 % 10000),
                       'Blocked until the contractor sends the estimate.',
                       'Split into smaller steps if it takes more than an hour.',
                       'Follow up by phone if there is no answer by Thursday.'])[1 + (h3 / 6) % 5]
                || CASE WHEN h1 % 100 = 1 THEN ' Attach it to the status report for the team.'
                        WHEN (h3 / 30) % 2 = 0 THEN ' Keep the confirmation email; it will be needed again next year for the renewal.'
                        ELSE '' END
         END AS description
  FROM seed_tasks
) t;

-- 0–3 distinct tags per task.
INSERT INTO task_tags (user_uuid, task_id, tag_id)
SELECT md5('user' || u)::uuid, md5('task' || u || '-' || j)::uuid, md5('tag' || u || '-' || ((h1 / 7 + s) % 8))::uuid
FROM seed_tasks, LATERAL generate_series(0, (h3 / 11) % 4 - 1) s;

DROP TABLE seed_tasks;

DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT def FROM seed_indexes LOOP EXECUTE r.def; END LOOP;
END $$;
DROP TABLE seed_indexes;
RESET session_replication_role;
