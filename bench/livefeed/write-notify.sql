SELECT uuid AS u FROM "user" ORDER BY id OFFSET :client_id LIMIT 1 \gset
BEGIN READ WRITE;
SET LOCAL ROLE taskgraph_app;
SELECT set_config('app.user_uuid', ':u', true);
INSERT INTO tasks (user_uuid, title, created_at, updated_at) VALUES (':u', 'bench', now(), now()) RETURNING id;
SELECT pg_notify('taskgraph_events', '{"u":":u","at":"2026-12-07T00:00:00Z","k":"task","op":"created","ids":["00000000-0000-0000-0000-000000000000"]}');
COMMIT;
