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

// sortColumns maps a field to its column; nullable columns sort NULLs last in both directions.
var sortColumns = map[SortField]struct {
	col, cast string // cast: the type of a cursor value in SQL
	nullable  bool
}{
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
	WithTags  bool // also load the page's tags (TaskPage.Tags), in the same transaction
}

// TaskPage is one page of tasks in the requested order, with a cursor for each.
type TaskPage struct {
	Tasks           []Task
	Cursors         []string
	HasNextPage     bool
	HasPreviousPage bool
	TotalCount      int                 // only when WithTotal
	Tags            map[uuid.UUID][]Tag // only when WithTags; tasks without tags are absent
}

// cursor is the keyset position of one row, bound to the list it came from: the user, the ordering
// and the filter hash in Bind. Value is the sort key as text (nil for NULL).
type cursor struct {
	Bind  string    `json:"b"`
	Value *string   `json:"v"`
	ID    uuid.UUID `json:"i"`
}

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

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
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
// cursor is a client error rather than a failing statement.
func checkKey(v *string, f SortField) error {
	if v == nil {
		if sortColumns[f].nullable {
			return nil
		}
		return ErrInvalidCursor
	}
	switch f {
	case SortCreatedAt, SortUpdatedAt, SortDueAt:
		if _, err := time.Parse(time.RFC3339Nano, *v); err != nil {
			return ErrInvalidCursor
		}
	case SortPriority:
		if n, err := strconv.Atoi(*v); err != nil || n < 1 || n > 4 {
			return ErrInvalidCursor
		}
	}
	return nil
}

// query builds a parameterised statement.
type query struct {
	where []string
	args  []any
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
		p := q.arg("%" + likeEscaper.Replace(f.Search) + "%")
		q.where = append(q.where, fmt.Sprintf("(t.title ILIKE %s OR t.description ILIKE %s)", p, p))
	}
	if f.DueAfter != nil {
		q.where = append(q.where, "t.due_at >= "+q.arg(*f.DueAfter))
	}
	if f.DueBefore != nil {
		q.where = append(q.where, "t.due_at < "+q.arg(*f.DueBefore))
	}
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// segment is one index range of a walk: extra conditions and the ORDER BY that the index serves.
type segment struct {
	cond  func(q *query) string // nil: no condition beyond the filter
	order string
}

// statement selects up to limit of the user's tasks matching f in the segment.
func (seg segment) statement(user uuid.UUID, f TaskFilter, limit int) (string, []any) {
	var q query
	q.filter(user, f)
	if seg.cond != nil {
		q.where = append(q.where, seg.cond(&q))
	}
	return `SELECT ` + taskColumns + ` FROM tasks t WHERE ` + strings.Join(q.where, " AND ") +
		` ORDER BY ` + seg.order + ` LIMIT ` + q.arg(limit), q.args
}

// segments plans a walk from cursor c (nil: from the start) as index range scans, each a seek
// (never a scan from the start of the user's rows, as an OR would make it):
//   - a NOT NULL key is one range, (key, id) compared as a row so that PostgreSQL seeks to it;
//   - a nullable key is two ranges, walked in order: the non-NULL keys, then the NULL keys by id
//     (NULLs last); backwards, the NULLs come first.
//
// dir is the walk's own direction: the ordering's, reversed when walking backward.
func segments(col, cast string, nullable, desc, backward bool, c *cursor) []segment {
	dir, gt := "ASC", ">"
	if desc != backward {
		dir, gt = "DESC", "<"
	}
	// The ORDER BY matches an index exactly, NULLS included: for NOT NULL columns PostgreSQL's
	// default suits the one index both ways; nullable ones have an index per direction declared
	// NULLS LAST, read in reverse (NULLS FIRST) when walking backward. The NULL segment keeps the
	// column in its ORDER BY too, so that it reads the same index rather than sorting by id.
	order := fmt.Sprintf("t.%s %s, t.id %s", col, dir, dir)
	if nullable && backward {
		order = fmt.Sprintf("t.%s %s NULLS FIRST, t.id %s", col, dir, dir)
	} else if nullable {
		order = fmt.Sprintf("t.%s %s NULLS LAST, t.id %s", col, dir, dir)
	}
	keyed := segment{order: order}
	if c != nil && c.Value != nil {
		keyed.cond = func(q *query) string {
			return fmt.Sprintf("(t.%s, t.id) %s (%s%s, %s)", col, gt, q.arg(*c.Value), cast, q.arg(c.ID))
		}
	}
	if !nullable {
		return []segment{keyed}
	}
	if keyed.cond == nil {
		keyed.cond = func(*query) string { return fmt.Sprintf("t.%s IS NOT NULL", col) }
	}
	nulls := segment{
		cond:  func(*query) string { return fmt.Sprintf("t.%s IS NULL", col) },
		order: order,
	}
	if c != nil && c.Value == nil {
		nulls.cond = func(q *query) string { return fmt.Sprintf("t.%s IS NULL AND t.id %s %s", col, gt, q.arg(c.ID)) }
	}
	switch {
	case c != nil && c.Value == nil && !backward: // inside the NULL block, which ends the walk
		return []segment{nulls}
	case c != nil && c.Value != nil && backward: // before a keyed row: only keyed rows
		return []segment{keyed}
	case backward:
		return []segment{nulls, keyed}
	default:
		return []segment{keyed, nulls}
	}
}

// ListTasks returns one page of the user's tasks by keyset pagination (never OFFSET): rows are
// found from the cursor's (key, id) position, so the walk is stable under ties and NULL keys.
// A cursor that is malformed or made for another user, ordering or filter is ErrInvalidCursor.
func (s *Store) ListTasks(ctx context.Context, user uuid.UUID, tq TaskQuery) (TaskPage, error) {
	sc, ok := sortColumns[tq.Order.Field]
	if !ok {
		return TaskPage{}, fmt.Errorf("db: unknown sort field %q", tq.Order.Field)
	}
	bind := binding(user, tq)
	backward, limit, raw := tq.Backward, tq.Limit, tq.Cursor
	if limit < 0 {
		return TaskPage{}, fmt.Errorf("db: page size %d", limit)
	}
	var from *cursor
	if raw != "" {
		c, err := decodeCursor(raw, bind)
		if err != nil {
			return TaskPage{}, err
		}
		if err := checkKey(c.Value, tq.Order.Field); err != nil {
			return TaskPage{}, err
		}
		from = &c
	}
	plan := segments(sc.col, sc.cast, sc.nullable, tq.Order.Desc, backward, from)

	var page TaskPage
	err := s.withTx(ctx, user, func(tx *sqlx.Tx, _ time.Time) error {
		// One query per segment, until the page (plus one row, to learn whether there is more) is full.
		var rows []taskRow
		for _, seg := range plan {
			if len(rows) > limit {
				break
			}
			stmt, args := seg.statement(user, tq.Filter, limit+1-len(rows))
			var part []taskRow
			if err := sqlx.SelectContext(ctx, tx, &part, stmt, args...); err != nil {
				return fmt.Errorf("db: list tasks: %w", err)
			}
			rows = append(rows, part...)
		}
		more := len(rows) > limit
		if more {
			rows = rows[:limit]
		}
		if backward {
			slices.Reverse(rows)
			page.HasPreviousPage, page.HasNextPage = more, raw != ""
		} else {
			page.HasNextPage, page.HasPreviousPage = more, raw != ""
		}
		page.Tasks = make([]Task, len(rows))
		page.Cursors = make([]string, len(rows))
		for i, r := range rows {
			t := r.task()
			page.Tasks[i] = t
			page.Cursors[i] = encodeCursor(cursor{Bind: bind, Value: sortKey(t, tq.Order.Field), ID: t.ID})
		}
		if tq.WithTags && len(page.Tasks) > 0 {
			ids := make([]uuid.UUID, len(page.Tasks))
			for i, t := range page.Tasks {
				ids[i] = t.ID
			}
			var err error
			if page.Tags, err = tagsByTask(ctx, tx, user, ids); err != nil {
				return err
			}
		}
		if !tq.WithTotal {
			return nil
		}
		var count query
		count.filter(user, tq.Filter)
		cq := `SELECT count(*) FROM tasks t WHERE ` + strings.Join(count.where, " AND ")
		if err := sqlx.GetContext(ctx, tx, &page.TotalCount, cq, count.args...); err != nil {
			return fmt.Errorf("db: count tasks: %w", err)
		}
		return nil
	})
	return page, err
}
