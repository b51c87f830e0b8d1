package db

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// SortField is a column tasks can be ordered by.
type SortField string

const (
	SortCreatedAt SortField = "CREATED_AT"
	SortUpdatedAt SortField = "UPDATED_AT"
	SortDueAt     SortField = "DUE_AT"
	SortPriority  SortField = "PRIORITY"
	SortTitle     SortField = "TITLE"
)

// sortColumn is how a sort field is stored: its column, the SQL type of a cursor value, and
// whether it may be NULL (NULLs sort last in both directions).
type sortColumn struct {
	col, cast string
	nullable  bool
}

var sortColumns = map[SortField]sortColumn{
	SortCreatedAt: {"created_at", "::timestamptz", false},
	SortUpdatedAt: {"updated_at", "::timestamptz", false},
	SortDueAt:     {"due_at", "::timestamptz", true},
	SortPriority:  {"priority", "::smallint", true},
	SortTitle:     {"title", "::text", false},
}

// TaskOrder is the ordering of a task list; id breaks ties in the same direction.
type TaskOrder struct {
	Field SortField
	Desc  bool
}

// TaskFilter narrows a task list. Zero values do not filter. DueAfter is inclusive, DueBefore
// exclusive, and both exclude tasks without a due date. Search matches title or description,
// ignoring case.
type TaskFilter struct {
	Completed  *bool
	Priorities []Priority
	TagIDs     []uuid.UUID
	AllTags    bool // every tag in TagIDs, rather than any
	Search     string
	DueAfter   *time.Time
	DueBefore  *time.Time
}

// TaskQuery asks for one page: the first Limit rows after Cursor or, when Backward, the last Limit
// rows before Cursor. An empty Cursor starts at the beginning (the end when Backward).
type TaskQuery struct {
	Filter    TaskFilter
	Order     TaskOrder
	Limit     int
	Cursor    string
	Backward  bool
	WithTotal bool // also count every task matching Filter
	WithTags  bool // also read each task's tags (Task.Tags), in the same statement
}

// TaskPage is one page of tasks in the requested order, with a cursor for each.
type TaskPage struct {
	Tasks           []Task
	Cursors         []string
	HasNextPage     bool
	HasPreviousPage bool
	TotalCount      int // only when WithTotal
}

// cursor is the keyset position of one row, bound to the list it came from: the user, the ordering
// and the filter hash in Bind. Value is the sort key as text (nil for NULL).
type cursor struct {
	Bind  string    `json:"b"`
	Value *string   `json:"v"`
	ID    uuid.UUID `json:"i"`
}

// CursorBinding is the binding the cursors of user's pages of q carry (CompiledPage.Bind).
func CursorBinding(user uuid.UUID, q TaskQuery) string { return binding(user, q) }

// binding identifies the list a cursor belongs to, so that a cursor used with another user,
// ordering or filter is refused instead of giving a wrong page.
func binding(user uuid.UUID, q TaskQuery) string {
	f := q.Filter
	prios := slices.Clone(f.Priorities)
	slices.Sort(prios)
	tags := make([]string, len(f.TagIDs))
	for i, id := range f.TagIDs {
		tags[i] = id.String()
	}
	slices.Sort(tags)
	tags = slices.Compact(tags)
	b, _ := json.Marshal([]any{user, q.Order.Field, q.Order.Desc, f.Completed, prios, tags, f.AllTags,
		f.Search, timeKey(f.DueAfter), timeKey(f.DueBefore)})
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func timeKey(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// encodeCursor is base64url(json.Marshal(c)), built without reflection for the usual values
// (times, numbers: json.Marshal writes them as they are); only a value that JSON would escape
// goes through json.Marshal. A page encodes one per row.
func encodeCursor(c cursor) string {
	n := len(c.Bind) + 58 // {"b":"…","v":null,"i":"<36>"}
	if c.Value != nil {
		n += len(*c.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"b":"`...)
	b = append(b, c.Bind...) // base64url: nothing to escape
	b = append(b, `","v":`...)
	switch {
	case c.Value == nil:
		b = append(b, "null"...)
	case plainJSON(*c.Value):
		b = append(b, '"')
		b = append(b, *c.Value...)
		b = append(b, '"')
	default:
		v, _ := json.Marshal(*c.Value)
		b = append(b, v...)
	}
	b = append(b, `,"i":"`...)
	b = append(b, c.ID.String()...)
	b = append(b, `"}`...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// plainJSON reports whether json.Marshal writes s between quotes unchanged: printable ASCII
// without ", \, <, > and &.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func decodeCursor(s, bind string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, ErrInvalidCursor
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Bind != bind || c.ID == uuid.Nil {
		return cursor{}, ErrInvalidCursor
	}
	return c, nil
}

// sortKey is a task's value of the sort field as cursor text.
func sortKey(t Task, f SortField) *string {
	var s string
	switch f {
	case SortCreatedAt:
		s = t.CreatedAt.UTC().Format(time.RFC3339Nano)
	case SortUpdatedAt:
		s = t.UpdatedAt.UTC().Format(time.RFC3339Nano)
	case SortTitle:
		s = t.Title
	case SortDueAt:
		if t.DueAt == nil {
			return nil
		}
		s = t.DueAt.UTC().Format(time.RFC3339Nano)
	case SortPriority:
		if t.Priority == nil {
			return nil
		}
		s = strconv.Itoa(int(*t.Priority))
	}
	return &s
}

// checkKey refuses a cursor value that does not parse as the sort field's type, so that a forged
// cursor is a client error rather than a failing statement, and rewrites a valid one in the
// spelling PostgreSQL reads (Go's parsers accept "," for "." in seconds, or "+2").
func checkKey(v *string, f SortField) error {
	if v == nil {
		if sortColumns[f].nullable {
			return nil
		}
		return ErrInvalidCursor
	}
	switch f {
	case SortCreatedAt, SortUpdatedAt, SortDueAt:
		// PostgreSQL reads the key as text: it must be a time it can parse (not year 0000).
		t, err := time.Parse(time.RFC3339Nano, *v)
		if err != nil || !TimeInRange(t) {
			return ErrInvalidCursor
		}
		*v = t.UTC().Format(time.RFC3339Nano)
	case SortTitle:
		if strings.ContainsRune(*v, 0) || !utf8.ValidString(*v) { // text cannot hold them
			return ErrInvalidCursor
		}
	case SortPriority:
		n, err := strconv.Atoi(*v)
		if err != nil || n < 1 || n > 4 {
			return ErrInvalidCursor
		}
		*v = strconv.Itoa(n)
	}
	return nil
}

// query builds a parameterised statement.
type query struct {
	where  []string
	args   []any
	search string // the search text, once match has added it
}

func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *query) filter(user uuid.UUID, f TaskFilter) {
	q.where = append(q.where, "t.user_uuid = "+q.arg(user))
	if f.Completed != nil {
		if *f.Completed {
			q.where = append(q.where, "t.completed_at IS NOT NULL")
		} else {
			q.where = append(q.where, "t.completed_at IS NULL")
		}
	}
	if len(f.Priorities) > 0 {
		ps := make(pq.Int64Array, len(f.Priorities))
		for i, p := range f.Priorities {
			ps[i] = int64(p)
		}
		q.where = append(q.where, "t.priority = ANY("+q.arg(ps)+"::smallint[])")
	}
	if ids := distinct(f.TagIDs); len(ids) > 0 {
		tags := q.arg(uuidArray(ids))
		if f.AllTags {
			q.where = append(q.where, fmt.Sprintf(`(SELECT count(*) FROM task_tags tt
				WHERE tt.user_uuid = t.user_uuid AND tt.task_id = t.id AND tt.tag_id = ANY(%s::uuid[])) = %s`,
				tags, q.arg(len(ids))))
		} else {
			q.where = append(q.where, fmt.Sprintf(`EXISTS (SELECT 1 FROM task_tags tt
				WHERE tt.user_uuid = t.user_uuid AND tt.task_id = t.id AND tt.tag_id = ANY(%s::uuid[]))`, tags))
		}
	}
	if f.Search != "" {
		q.where = append(q.where, q.match(f.Search))
	}
	if f.DueAfter != nil {
		q.where = append(q.where, "t.due_at >= "+q.arg(*f.DueAfter))
	}
	if f.DueBefore != nil {
		q.where = append(q.where, "t.due_at < "+q.arg(*f.DueBefore))
	}
}

// match is the search condition: search as a substring of the title or the description,
// ignoring case, through task_matches (migrations/00005_search_folded.sql): the answers of
// t.title ILIKE '%search%' OR t.description ILIKE '%search%' (search's wildcards escaped), from the
// row's lower-cased copies (t must have title_lower and description_lower).
func (q *query) match(search string) string {
	q.search = search
	return matchOn(q.arg(search))
}

// matchOn is the search condition on the parameter p holding the search text.
func matchOn(p string) string {
	return fmt.Sprintf("task_matches(t.title_lower, t.description_lower, %s)", p)
}

// ilikePattern is the search as an ILIKE pattern: its wildcards escaped, between %.
func ilikePattern(search string) string { return "%" + likeEscaper.Replace(search) + "%" }

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// segment is one index range of a walk: extra conditions and the ORDER BY that the index serves.
type segment struct {
	cond  func(q *query) string // nil: no condition beyond the filter
	order string
}

// statement selects up to limit of the user's tasks matching f in the segment, with their tags
// (tagsColumn; the filter binds the user as $1) when withTags. With a search it is searched (see
// there).
func (seg segment) statement(user uuid.UUID, f TaskFilter, limit int, withTags bool) (string, []any) {
	search := f.Search
	f.Search = ""
	var q query
	q.filter(user, f)
	if seg.cond != nil {
		q.where = append(q.where, seg.cond(&q))
	}
	cols := taskColumns
	if withTags {
		cols += ", " + tagsColumn
	}
	if search != "" {
		return seg.searched(&q, search, limit, cols), q.args
	}
	return `SELECT ` + cols + ` FROM tasks t WHERE ` + strings.Join(q.where, " AND ") +
		` ORDER BY ` + seg.order + ` LIMIT ` + q.arg(limit), q.args
}

// searchWindow is how many rows of the walk a search reads, per row it asks for, before it turns
// to the trigram index: terms found in more than 1 in searchWindow rows are served by the walk.
const searchWindow = 100

// searched is the segment's statement with a search, in one statement and so one round trip.
// Under row-level security PostgreSQL cannot use an index for ILIKE (it is not leakproof), and
// it cannot estimate how many rows match, so it chooses badly between walking the ordering's
// index and filtering (fast for a common term, every row of the user for a rare one) and
// collecting all of the user's rows to sort them (always every row). The statement decides
// while it runs instead:
//   - a: the first limit matches among the first searchWindow × limit rows of the walk, read in
//     the index's order; the walk stops as soon as it has them;
//   - if that window held fewer than limit matches (a rare term) and was full (more rows remain),
//     the rest come from the trigram index through task_search (migrations/00004_search.sql),
//     read back through the policies by id, with every condition applied again;
//   - both together, in the segment's order, limit rows.
//
// For a term in more than 1% of the walk it costs the walk up to its limit-th match; for a rarer
// one, the window plus an index read of the user's matches, about 1% of the user's rows or fewer.
func (seg segment) searched(q *query, search string, limit int, cols string) string {
	where := strings.Join(q.where, " AND ")
	match := q.match(search)
	lim, win := q.arg(limit), q.arg(searchWindow*limit)
	return `WITH a AS MATERIALIZED (
			SELECT ` + taskColumns + ` FROM (SELECT ` + taskColumns + `, title_lower, description_lower FROM tasks t WHERE ` + where + ` ORDER BY ` + seg.order + ` LIMIT ` + win + `) t
			WHERE ` + match + ` ORDER BY ` + seg.order + ` LIMIT ` + lim + `)
		SELECT ` + cols + ` FROM (
			SELECT * FROM a
			UNION ALL
			SELECT ` + taskColumns + ` FROM tasks t
			WHERE (SELECT count(*) FROM a) < ` + lim + `
				AND (SELECT count(*) FROM (SELECT 1 FROM tasks t WHERE ` + where + ` LIMIT ` + win + `) w) = ` + win + `
				AND t.id IN (SELECT task_search(` + q.arg(ilikePattern(q.search)) + `)) AND t.id NOT IN (SELECT id FROM a)
				AND ` + where + ` AND ` + match + `
		) t ORDER BY ` + seg.order + ` LIMIT ` + lim
}

// walk describes the reading of one page: the sort column, the ordering's direction, whether the
// page is read backward, and the cursor it starts from (nil: the start, the end when backward).
type walk struct {
	sortColumn
	desc, backward bool
	from           *cursor
}

func (w walk) fromKey() bool  { return w.from != nil && w.from.Value != nil } // a cursor on a keyed row
func (w walk) fromNull() bool { return w.from != nil && w.from.Value == nil } // a cursor on a NULL key

// direction is the walk's own direction (the ordering's, reversed when walking backward) and the
// comparison that moves along it.
func (w walk) direction() (dir, gt string) {
	if w.desc != w.backward {
		return "DESC", "<"
	}
	return "ASC", ">"
}

// order is every segment's ORDER BY. It matches an index exactly, NULLS included: for NOT NULL
// columns PostgreSQL's default suits the one index both ways; nullable ones have an index per
// direction declared NULLS LAST, read in reverse (NULLS FIRST) when walking backward. The NULL
// segment keeps the column in its ORDER BY too, so that it reads the same index rather than
// sorting by id.
func (w walk) order() string {
	dir, _ := w.direction()
	nulls := ""
	switch {
	case w.nullable && w.backward:
		nulls = " NULLS FIRST"
	case w.nullable:
		nulls = " NULLS LAST"
	}
	return fmt.Sprintf("t.%s %s%s, t.id %s", w.col, dir, nulls, dir)
}

// keyed is the range of rows with a key: past the cursor's (key, id), compared as a row so that
// PostgreSQL seeks to it; for a nullable column, the non-NULL keys.
func (w walk) keyed() segment {
	_, gt := w.direction()
	seg := segment{order: w.order()}
	switch c := w.from; {
	case w.fromKey():
		seg.cond = func(q *query) string {
			return fmt.Sprintf("(t.%s, t.id) %s (%s%s, %s)", w.col, gt, q.arg(*c.Value), w.cast, q.arg(c.ID))
		}
	case w.nullable:
		seg.cond = func(*query) string { return fmt.Sprintf("t.%s IS NOT NULL", w.col) }
	}
	return seg
}

// nulls is the range of rows without a key, by id: past the cursor's id when it is on a NULL key.
func (w walk) nulls() segment {
	_, gt := w.direction()
	seg := segment{order: w.order(), cond: func(*query) string { return fmt.Sprintf("t.%s IS NULL", w.col) }}
	if c := w.from; w.fromNull() {
		seg.cond = func(q *query) string { return fmt.Sprintf("t.%s IS NULL AND t.id %s %s", w.col, gt, q.arg(c.ID)) }
	}
	return seg
}

// segments plans the walk as index range scans, each a seek (never a scan from the start of the
// user's rows, as an OR would make it):
//   - a NOT NULL key is one range, keyed;
//   - a nullable key is two ranges, walked in order: the non-NULL keys, then the NULL keys by id
//     (NULLs last); backwards, the NULLs come first.
func segments(w walk) []segment {
	switch {
	case !w.nullable:
		return []segment{w.keyed()}
	case w.fromNull() && !w.backward: // inside the NULL block, which ends the walk
		return []segment{w.nulls()}
	case w.fromKey() && w.backward: // before a keyed row: only keyed rows
		return []segment{w.keyed()}
	case w.backward:
		return []segment{w.nulls(), w.keyed()}
	default:
		return []segment{w.keyed(), w.nulls()}
	}
}

// ListTasks returns one page of the user's tasks by keyset pagination (never OFFSET): rows are
// found from the cursor's (key, id) position, so the walk is stable under ties and NULL keys.
// A cursor that is malformed or made for another user, ordering or filter is ErrInvalidCursor.
func (s *Store) ListTasks(ctx context.Context, user uuid.UUID, tq TaskQuery) (TaskPage, error) {
	w, bind, err := planWalk(user, tq)
	if err != nil {
		return TaskPage{}, err
	}
	var page TaskPage
	err = s.withTx(ctx, user, readOnly, func(tx *txn, _ time.Time) error {
		rows, err := readRows(ctx, tx, user, w, tq)
		if err != nil {
			return err
		}
		if page, err = pageOf(rows, tq, bind); err != nil {
			return err
		}
		if tq.WithTotal {
			page.TotalCount, err = countTasks(ctx, tx, user, tq.Filter)
		}
		return err
	})
	return page, err
}

// planWalk checks tq and decodes its cursor. It returns the walk and the list's binding, which
// every cursor of the page carries.
func planWalk(user uuid.UUID, tq TaskQuery) (walk, string, error) {
	sc, ok := sortColumns[tq.Order.Field]
	if !ok {
		return walk{}, "", fmt.Errorf("db: unknown sort field %q", tq.Order.Field)
	}
	bind := binding(user, tq)
	if tq.Limit < 0 {
		return walk{}, "", fmt.Errorf("db: page size %d", tq.Limit)
	}
	w := walk{sortColumn: sc, desc: tq.Order.Desc, backward: tq.Backward}
	if tq.Cursor != "" {
		c, err := decodeCursor(tq.Cursor, bind)
		if err != nil {
			return walk{}, "", err
		}
		if err := checkKey(c.Value, tq.Order.Field); err != nil {
			return walk{}, "", err
		}
		w.from = &c
	}
	return w, bind, nil
}

// readRows runs the walk's segments in order, one statement each, until the page plus one row
// (which tells whether there is more) is read.
func readRows(ctx context.Context, tx *txn, user uuid.UUID, w walk, tq TaskQuery) ([]taskRow, error) {
	rows := make([]taskRow, 0, min(tq.Limit+1, 128))
	for _, seg := range segments(w) {
		if len(rows) > tq.Limit {
			break
		}
		stmt, args := seg.statement(user, tq.Filter, tq.Limit+1-len(rows), tq.WithTags)
		var err error
		if rows, err = appendRows(ctx, tx, rows, tq.WithTags, stmt, args); err != nil {
			return nil, fmt.Errorf("db: list tasks: %w", err)
		}
	}
	return rows, nil
}

// pageOf makes the page of the rows read (up to tq.Limit+1, in the walk's order): in the
// ordering's order, each task with its cursor.
func pageOf(rows []taskRow, tq TaskQuery, bind string) (TaskPage, error) {
	var page TaskPage
	more := len(rows) > tq.Limit
	if more {
		rows = rows[:tq.Limit]
	}
	if tq.Backward {
		slices.Reverse(rows)
		page.HasPreviousPage, page.HasNextPage = more, tq.Cursor != ""
	} else {
		page.HasNextPage, page.HasPreviousPage = more, tq.Cursor != ""
	}
	page.Tasks = make([]Task, len(rows))
	page.Cursors = make([]string, len(rows))
	for i, r := range rows {
		t, err := r.task()
		if err != nil {
			return page, err
		}
		page.Tasks[i] = t
		page.Cursors[i] = encodeCursor(cursor{Bind: bind, Value: sortKey(t, tq.Order.Field), ID: t.ID})
	}
	return page, nil
}

// countTasks counts every task of the user matching f.
func countTasks(ctx context.Context, tx *txn, user uuid.UUID, f TaskFilter) (int, error) {
	var count query
	count.filter(user, f)
	q := `SELECT count(*) FROM tasks t WHERE ` + strings.Join(count.where, " AND ")
	var n int
	if err := sqlx.GetContext(ctx, tx, &n, q, count.args...); err != nil {
		return 0, fmt.Errorf("db: count tasks: %w", err)
	}
	return n, nil
}
