-- +goose Up

-- taskgraph_app is the role every data transaction switches to (SET LOCAL ROLE), so that row-level
-- security applies even when the configured database user is a superuser or owns the tables.
-- Roles are cluster-wide and several databases may migrate at once: tolerate losing the race.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'taskgraph_app') THEN
        BEGIN
            CREATE ROLE taskgraph_app NOLOGIN NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'taskgraph_app', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT taskgraph_app TO %I', current_user);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;
-- +goose StatementEnd

CREATE TABLE tasks (
    user_uuid    uuid        NOT NULL REFERENCES "user" (uuid) ON DELETE CASCADE,
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    title        text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    description  text        CHECK (char_length(description) <= 10000),
    completed_at timestamptz,
    priority     smallint    CHECK (priority BETWEEN 1 AND 4), -- 1 LOW, 2 MEDIUM, 3 HIGH, 4 URGENT
    due_at       timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (user_uuid, id)
);

CREATE TABLE tags (
    user_uuid  uuid        NOT NULL REFERENCES "user" (uuid) ON DELETE CASCADE,
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    name       text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 50),
    color      text        CHECK (color ~ '^#[0-9a-f]{6}$'),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (user_uuid, id)
);
CREATE UNIQUE INDEX tags_user_name_key ON tags (user_uuid, lower(name));
CREATE INDEX tags_user_created_idx ON tags (user_uuid, created_at, id);

-- Composite foreign keys: PostgreSQL itself refuses one user's tag on another user's task.
CREATE TABLE task_tags (
    user_uuid uuid NOT NULL,
    task_id   uuid NOT NULL,
    tag_id    uuid NOT NULL,
    PRIMARY KEY (user_uuid, task_id, tag_id),
    FOREIGN KEY (user_uuid, task_id) REFERENCES tasks (user_uuid, id) ON DELETE CASCADE,
    FOREIGN KEY (user_uuid, tag_id) REFERENCES tags (user_uuid, id) ON DELETE CASCADE
);
CREATE INDEX task_tags_tag_idx ON task_tags (user_uuid, tag_id, task_id);

-- One index per ordering of tasks(orderBy:); NULLS LAST matches the queries in both directions
-- (a backward walk reads the index in reverse).
CREATE INDEX tasks_created_idx  ON tasks (user_uuid, created_at DESC, id DESC);
CREATE INDEX tasks_updated_idx  ON tasks (user_uuid, updated_at DESC, id DESC);
CREATE INDEX tasks_title_idx    ON tasks (user_uuid, title, id);
CREATE INDEX tasks_due_asc_idx  ON tasks (user_uuid, due_at ASC NULLS LAST, id ASC);
CREATE INDEX tasks_due_desc_idx ON tasks (user_uuid, due_at DESC NULLS LAST, id DESC);
CREATE INDEX tasks_prio_asc_idx  ON tasks (user_uuid, priority ASC NULLS LAST, id ASC);
CREATE INDEX tasks_prio_desc_idx ON tasks (user_uuid, priority DESC NULLS LAST, id DESC);

-- Row-level security keyed on the per-transaction setting. Unset, it reads back as '' on a pooled
-- connection (or NULL on a fresh one): both give no rows, never an error.
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;
ALTER TABLE tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE tags FORCE ROW LEVEL SECURITY;
ALTER TABLE task_tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_tags FORCE ROW LEVEL SECURITY;

CREATE POLICY tasks_owner ON tasks
    USING (user_uuid = nullif(current_setting('app.user_uuid', true), '')::uuid)
    WITH CHECK (user_uuid = nullif(current_setting('app.user_uuid', true), '')::uuid);
CREATE POLICY tags_owner ON tags
    USING (user_uuid = nullif(current_setting('app.user_uuid', true), '')::uuid)
    WITH CHECK (user_uuid = nullif(current_setting('app.user_uuid', true), '')::uuid);
CREATE POLICY task_tags_owner ON task_tags
    USING (user_uuid = nullif(current_setting('app.user_uuid', true), '')::uuid)
    WITH CHECK (user_uuid = nullif(current_setting('app.user_uuid', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON tasks, tags, task_tags TO taskgraph_app;
GRANT SELECT (id, uuid, email, name) ON "user" TO taskgraph_app;

-- +goose Down
DROP TABLE task_tags;
DROP TABLE tags;
DROP TABLE tasks;
-- The role is cluster-wide and may serve other databases: it stays.
