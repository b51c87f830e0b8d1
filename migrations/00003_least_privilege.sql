-- +goose Up
-- taskgraph_app gets no access to Better Auth's "user" table itself (it could read every user's
-- id, uuid, email and name); it reads through two narrow doors instead. Nothing here alters
-- "user", so Better Auth keeps reading and writing it as before.
REVOKE ALL ON "user" FROM taskgraph_app;

-- 1. The signed-in user's own row, chosen by app.user_uuid as the policies on tasks and tags are:
-- all the me field needs. A view reads "user" with its owner's rights; security_barrier keeps its
-- condition below anything a query adds (a leaky function cannot see the other rows).
CREATE OR REPLACE VIEW taskgraph_current_user WITH (security_barrier) AS
    SELECT id, uuid, email, name FROM "user"
    WHERE uuid = nullif(current_setting('app.user_uuid', true), '')::uuid;
REVOKE ALL ON taskgraph_current_user FROM PUBLIC;
GRANT SELECT ON taskgraph_current_user TO taskgraph_app;

-- 2. The lookup before a user is known (a token without the uuid claim): one sub to one uuid,
-- nothing else. SECURITY DEFINER with a fixed search_path (pg_temp last) and the table qualified
-- by the schema it lives in, so nothing on a caller's search_path can stand in for "user" or for
-- the = operator.
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION %1$I.taskgraph_user_uuid(sub text) RETURNS uuid
            LANGUAGE sql STABLE STRICT SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS 'SELECT uuid FROM %1$I."user" WHERE id = $1'
    $f$, current_schema());
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION taskgraph_user_uuid(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION taskgraph_user_uuid(text) TO taskgraph_app;

-- +goose Down
DROP FUNCTION taskgraph_user_uuid(text);
DROP VIEW taskgraph_current_user;
GRANT SELECT (id, uuid, email, name) ON "user" TO taskgraph_app;
