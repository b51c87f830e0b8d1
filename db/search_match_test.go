package db

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// task_matches (migrations/00005_search_folded.sql) answers exactly as ILIKE on the title or
// the description did, for cases, accents, special casings, NULL descriptions, and patterns
// with escaped wildcards.
func TestTaskMatchesIsILIKE(t *testing.T) {
	t.Parallel()
	x := testkit.NewDB(t)
	user := testkit.CreateUser(t, x, "sub", "a@example.com", "A")
	s := NewStore(x)
	ctx := context.Background()
	texts := []string{"Quarterly REPORT", "report", "Ärger über Öl", "ÄRGER", "straße", "STRASSE", "İstanbul", "istanbul",
		"ǅemal", "ǆ", "Σίσυφος", "ΣΊΣΥΦΟΣ", "100% done", "100 done", "a_b", "axb", `back\slash`, "tab\there", "日本語"}
	for i, title := range texts {
		in := NewTask{Title: title}
		if i%3 == 0 {
			d := texts[len(texts)-1-i]
			in.Description = &d
		}
		if _, err := s.CreateTask(ctx, user, in); err != nil {
			t.Fatal(err)
		}
	}
	terms := []string{"report", "REPORT", "ärger", "ÖL", "straße", "SS", "i̇stanbul", "İSTANBUL", "ISTANBUL", "ǆ", "Ǆ", "ǅ",
		"σίσυφος", "ς", "%", "100%", "_", "a_b", `\`, `\s`, "\t", "本", "", "e"}
	for _, term := range terms {
		var q query
		q.arg(user)
		pattern := q.arg(ilikePattern(term))
		var viaILIKE, viaMatch []string
		err := s.withTx(ctx, user, readOnly, func(tx *txn, _ time.Time) error {
			if err := sqlx.SelectContext(ctx, tx, &viaILIKE, `SELECT title FROM tasks t WHERE t.user_uuid = $1 AND (t.title ILIKE `+pattern+` OR t.description ILIKE `+pattern+`) ORDER BY title`, q.args...); err != nil {
				return err
			}
			return sqlx.SelectContext(ctx, tx, &viaMatch, `SELECT title FROM tasks t WHERE t.user_uuid = $1 AND `+matchOn("$2")+` ORDER BY title`, user, term)
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(viaILIKE, viaMatch) {
			t.Errorf("search %q: ILIKE %q, task_matches %q", term, viaILIKE, viaMatch)
		}
	}
}
