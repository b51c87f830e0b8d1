-- +goose Up

-- Search without lower-casing every row it reads. tasks(filter: {search}) walks the ordering's
-- index and keeps the rows whose title or description contains the term, ignoring case
-- (db/list.go). ILIKE lower-cases the row's text and the pattern again for every row it looks at
-- (in a UTF-8 database, PostgreSQL's ILIKE is lower(text) LIKE lower(pattern)); for the heavy
-- bench user's 1,500 rows per page of "report" that was half of PostgreSQL's time for the
-- request. The lower-cased texts are kept with the row instead, and task_matches looks for the
-- lower-cased term in them: the same answers as
--     t.title ILIKE '%' || escaped(term) || '%' OR t.description ILIKE '%' || escaped(term) || '%'
-- for every term (escaped: \, % and _ preceded by \), at half the cost (bench/README.md,
-- "PostgreSQL's share"). Adding the columns rewrites the table once (ACCESS EXCLUSIVE while it runs).
ALTER TABLE tasks
    ADD COLUMN title_lower text GENERATED ALWAYS AS (lower(title)) STORED,
    ADD COLUMN description_lower text GENERATED ALWAYS AS (lower(description)) STORED;

-- task_matches is the search condition, in one place for every statement that searches:
--     task_matches(t.title_lower, t.description_lower, term)
-- term is the search text as the client sent it (no wildcards). A plain SQL function, which the
-- planner inlines (with a constant term, lower(term) is folded once per statement). strpos finds
-- a substring as LIKE '%term%' does, faster.
-- +goose StatementBegin
CREATE FUNCTION task_matches(title_lower text, description_lower text, term text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.strpos(title_lower, pg_catalog.lower(term)) > 0
        OR pg_catalog.strpos(description_lower, pg_catalog.lower(term)) > 0
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION task_matches(text, text, text);
ALTER TABLE tasks DROP COLUMN title_lower, DROP COLUMN description_lower;
