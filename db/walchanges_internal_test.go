package db

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// A transaction's decoded rows give the notifications notify would have sent for it.
func TestTxnChanges(t *testing.T) {
	u, task, task2, tag := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	row := func(table string, op ChangeOp, cols ...string) RowChange {
		m := map[string]string{"user_uuid": u.String()}
		for i := 0; i+1 < len(cols); i += 2 {
			m[cols[i]] = cols[i+1]
		}
		return RowChange{Table: table, Op: op, Cols: m}
	}
	commit := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		rows []RowChange
		want []Notification
	}{
		{"created with tags", []RowChange{
			row("tasks", OpCreated, "id", task.String(), "updated_at", "2026-12-07 09:59:59.123456+00"),
			row("task_tags", OpCreated, "task_id", task.String(), "tag_id", tag.String()),
		}, []Notification{{User: u, Kind: KindTask, Op: OpCreated, IDs: []uuid.UUID{task}, At: time.Date(2026, 12, 7, 9, 59, 59, 123456000, time.UTC)}}},
		{"tag deleted from two tasks", []RowChange{
			row("tags", OpDeleted, "id", tag.String()),
			row("task_tags", OpDeleted, "task_id", task.String(), "tag_id", tag.String()),
			row("task_tags", OpDeleted, "task_id", task2.String(), "tag_id", tag.String()),
		}, []Notification{
			{User: u, Kind: KindTag, Op: OpDeleted, IDs: []uuid.UUID{tag}, At: commit},
			{User: u, Kind: KindTask, Op: OpUpdated, IDs: []uuid.UUID{task, task2}, At: commit},
		}},
		{"deleted with its tags", []RowChange{
			row("tasks", OpDeleted, "id", task.String()),
			row("task_tags", OpDeleted, "task_id", task.String(), "tag_id", tag.String()),
		}, []Notification{{User: u, Kind: KindTask, Op: OpDeleted, IDs: []uuid.UUID{task}, At: commit}}},
	}
	for _, c := range cases {
		got := TxnChanges(c.rows, commit)
		if len(got) != len(c.want) {
			t.Fatalf("%s: %+v, want %+v", c.name, got, c.want)
		}
		for i := range got {
			g, w := got[i], c.want[i]
			if g.User != w.User || g.Kind != w.Kind || g.Op != w.Op || !g.At.Equal(w.At) || len(g.IDs) != len(w.IDs) {
				t.Fatalf("%s: notification %d %+v, want %+v", c.name, i, g, w)
			}
			for j := range g.IDs {
				if g.IDs[j] != w.IDs[j] {
					t.Fatalf("%s: notification %d ids %v, want %v", c.name, i, g.IDs, w.IDs)
				}
			}
		}
	}
}

func TestInProgress(t *testing.T) {
	for _, c := range []struct {
		snap string
		xids []uint32
		want bool
	}{
		{"100:105:101,103", []uint32{102}, false},
		{"100:105:101,103", []uint32{103}, true},
		{"100:105:", []uint32{105}, true},
		{"4294967396:4294967400:", []uint32{99}, false}, // epoch 1: 2^32+99 is done
		{"4294967396:4294967400:4294967397", []uint32{101}, true},
	} {
		got, err := inProgress(c.snap, c.xids)
		if err != nil || got != c.want {
			t.Errorf("inProgress(%q, %v) = %v, %v; want %v", c.snap, c.xids, got, err, c.want)
		}
	}
}

// On the logical feed a created or updated tag's event carries the row the transaction left,
// when the row came whole; a deleted tag, a row missing a column and a task carry none.
func TestTxnChangesCarryTagRows(t *testing.T) {
	u, a, b, c := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	tagRow := func(op ChangeOp, id uuid.UUID, name string, color *string, whole bool) RowChange {
		cols := map[string]string{"user_uuid": u.String(), "id": id.String(), "name": name, "created_at": "2026-12-07 11:00:00.5+02"}
		if color != nil {
			cols["color"] = *color
		}
		return RowChange{Table: "tags", Op: op, Cols: cols, Whole: whole}
	}
	red := "#ff0000"
	got := TxnChanges([]RowChange{
		tagRow(OpCreated, a, "first", &red, true),
		tagRow(OpUpdated, a, "renamed", nil, true), // the last values win
		tagRow(OpUpdated, b, "partial", nil, false),
		tagRow(OpDeleted, c, "", nil, true),
	}, time.Now())
	if len(got) != 3 {
		t.Fatalf("%+v", got)
	}
	created, updated, deleted := got[0], got[1], got[2]
	want := Tag{ID: a, Name: "renamed", CreatedAt: time.Date(2026, 12, 7, 9, 0, 0, 500000000, time.UTC)}
	if g, ok := created.Tags[a]; created.Op != OpCreated || !ok || g.Name != want.Name || g.Color != nil || !g.CreatedAt.Equal(want.CreatedAt) || g.ID != a {
		t.Errorf("created: %+v, want the row %+v", created, want)
	}
	if _, ok := updated.Tags[b]; ok || updated.Op != OpUpdated {
		t.Errorf("a row without all its columns: %+v, want no values (it is read)", updated)
	}
	if deleted.Op != OpDeleted || deleted.Tags != nil {
		t.Errorf("deleted: %+v, want no values", deleted)
	}
	colored := TxnChanges([]RowChange{tagRow(OpCreated, a, "x", &red, true)}, time.Now())
	if g := colored[0].Tags[a]; g.Color == nil || *g.Color != red {
		t.Errorf("color: %+v", g)
	}
}
