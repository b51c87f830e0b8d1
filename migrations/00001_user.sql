-- +goose Up
-- Better Auth owns "user". Create it only when Better Auth has not migrated yet, with its columns,
-- so that either side may migrate first.
CREATE TABLE IF NOT EXISTS "user" (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    email           text NOT NULL UNIQUE,
    "emailVerified" boolean NOT NULL DEFAULT false,
    image           text,
    "createdAt"     timestamptz NOT NULL DEFAULT now(),
    "updatedAt"     timestamptz NOT NULL DEFAULT now()
);

-- The application UUID. The volatile default gives every existing row its own value.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'user' AND column_name = 'uuid'
    ) THEN
        ALTER TABLE "user" ADD COLUMN uuid uuid UNIQUE NOT NULL DEFAULT gen_random_uuid();
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- "user" belongs to Better Auth: leave it and its uuid column in place.
SELECT 1;
