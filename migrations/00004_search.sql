-- +goose Up

-- Substring search (tasks(filter: {search})) through a trigram index.
--
-- Row-level security stops PostgreSQL from using such an index for the data layer's own queries:
-- a condition that is not LEAKPROOF (ILIKE and every pg_trgm operator) must wait until the
-- policy's condition has been checked, so it cannot be an index condition, and only a superuser
-- can mark a function LEAKPROOF. So the index is read by task_search below, which runs as
-- taskgraph_search, a role whose policy admits every row (no policy condition to wait for) and
-- which is granted nothing but reading these four columns. The function itself keeps to the
-- transaction's user (app.user_uuid, as the policies do) and returns only ids; the data layer
-- then reads those tasks through the ordinary policies, so even a mistake here could not show a
-- row of another user.
--
-- pg_trgm and btree_gin (for the user_uuid column of the index) are trusted extensions: the
-- database's owner may create them without being a superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- The role is cluster-wide and several databases may migrate at once: tolerate losing the race.
-- The migrating user must be a member to make it the function's owner.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'taskgraph_search') THEN
        BEGIN
            CREATE ROLE taskgraph_search NOLOGIN NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'taskgraph_search', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT taskgraph_search TO %I', current_user);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;
-- +goose StatementEnd

-- One index per user's text: user_uuid first (btree_gin), so that a search reads only the
-- trigrams of the user's own tasks. Title and description are indexed as one text; the data
-- layer re-checks each of them exactly.
CREATE INDEX tasks_search_idx ON tasks USING gin (user_uuid, (title || ' ' || coalesce(description, '')) gin_trgm_ops);

GRANT SELECT (user_uuid, id, title, description) ON tasks TO taskgraph_search;
CREATE POLICY tasks_search ON tasks FOR SELECT TO taskgraph_search USING (true);

-- task_search returns the ids of the transaction user's tasks whose title or description may
-- match the ILIKE pattern (a superset: the data layer applies the exact condition).
-- A fixed search_path (pg_catalog first, pg_temp last) and the table qualified by the schema it
-- lives in, so that nothing on a caller's search_path can stand in for tasks or for ILIKE.
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format($f$
        CREATE FUNCTION %1$I.task_search(pattern text) RETURNS SETOF uuid
            LANGUAGE sql STABLE SECURITY DEFINER ROWS 100
            SET search_path = pg_catalog, pg_temp
        AS $body$
            SELECT id FROM %1$I.tasks
            WHERE user_uuid = nullif(current_setting('app.user_uuid', true), '')::uuid
              AND (title || ' ' || coalesce(description, '')) ILIKE pattern
        $body$
    $f$, current_schema());
END
$$;
-- +goose StatementEnd
-- A function's owner needs CREATE on its schema, but only while it becomes the owner.
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('GRANT CREATE ON SCHEMA %I TO taskgraph_search', current_schema());
    ALTER FUNCTION task_search(text) OWNER TO taskgraph_search;
    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM taskgraph_search', current_schema());
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION task_search(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION task_search(text) TO taskgraph_app;

-- +goose Down
DROP FUNCTION task_search(text);
DROP POLICY tasks_search ON tasks;
REVOKE SELECT (user_uuid, id, title, description) ON tasks FROM taskgraph_search;
DROP INDEX tasks_search_idx;
-- The role (cluster-wide) and the extensions (maybe used by others) stay.
