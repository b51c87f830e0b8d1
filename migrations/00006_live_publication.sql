-- +goose Up

-- taskgraph_live is what the live-updates feed decodes when wal_level = logical (package live):
-- the changes of tasks, tags and task_tags, read from the WAL, so that write transactions send
-- nothing extra. It costs nothing while no replication slot reads it, and it can be created at any
-- wal_level. A database user that may not create publications (no CREATE on the database, or not
-- the tables' owner) skips it: live updates then run on the NOTIFY fallback, and the server says so.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'taskgraph_live') THEN
        BEGIN
            CREATE PUBLICATION taskgraph_live FOR TABLE tasks, tags, task_tags;
        EXCEPTION WHEN insufficient_privilege OR duplicate_object THEN
            RAISE NOTICE 'taskgraph: publication taskgraph_live not created (%): live updates use the NOTIFY fallback', SQLERRM;
        END;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP PUBLICATION IF EXISTS taskgraph_live;
