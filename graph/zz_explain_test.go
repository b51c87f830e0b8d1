package graph

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

func TestZZExplain(t *testing.T) {
	q := os.Getenv("EXPLAIN_QUERY")
	if q == "" {
		t.Skip()
	}
	ctx := context.Background()
	x, err := db.Open(ctx, testkit.NewDBURL(t), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store := db.NewStore(x)
	u := testkit.CreateUser(t, x, "bench", "b@example.com", "B")
	var tags []uuid.UUID
	for k := range 8 {
		tg, _ := store.CreateTag(ctx, u, db.NewTag{Name: fmt.Sprintf("tag %d", k)})
		tags = append(tags, tg.ID)
	}
	for i := range 200 {
		in := db.NewTask{Title: fmt.Sprintf("Review pull request #%d", i), TagIDs: tags[i%8 : i%8+min(i%4, 8-i%8)]}
		if _, err := store.CreateTask(ctx, u, in); err != nil {
			t.Fatal(err)
		}
	}
	c, err := compileFor(t, q)
	if err != nil {
		t.Fatal(err)
	}
	c.args[0] = u
	for i, a := range c.args {
		if _, ok := a.(uuid.UUID); ok {
			c.args[i] = u
		}
	}
	tx := x.MustBegin()
	defer tx.Rollback()
	tx.MustExec("SET LOCAL ROLE taskgraph_app")
	tx.MustExec("SET LOCAL app.user_uuid = '" + u.String() + "'")
	tx.Exec(c.sql, c.args...)
	rows, err := tx.Query("EXPLAIN (ANALYZE, BUFFERS) "+c.sql, c.args...)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		fmt.Println(s)
	}
	rows.Close()
	start := time.Now()
	for range 50 {
		var out []byte
		if err := tx.QueryRow(c.sql, c.args...).Scan(&out); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("per statement:", time.Since(start)/50)
	for range 5 {
		start = time.Now()
		var out []byte
		if err := tx.QueryRow(c.sql, c.args...).Scan(&out); err != nil {
			t.Fatal(err)
		}
		fmt.Println("one:", time.Since(start), len(out))
	}
	st, err := tx.Prepare(c.sql)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for range 50 {
		var out []byte
		if err := st.QueryRow(c.args...).Scan(&out); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("prepared:", time.Since(start)/50)
	start = time.Now()
	for range 50 {
		var out []byte
		if err := tx.QueryRow(c.sql, c.args...).Scan(&out); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("unprepared again:", time.Since(start)/50)
	start = time.Now()
	for range 50 {
		var out []byte
		if err := tx.QueryRow("SELECT $1::text", "x").Scan(&out); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("per trivial statement:", time.Since(start)/50)
	start = time.Now()
	for range 50 {
		var out []byte
		if err := tx.QueryRow("SELECT "+c.sql[len("WITH "):len("WITH ")+0]+"1").Scan(&out); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("per trivial statement without args:", time.Since(start)/50)
}
