package db_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// TestPostgreSQLTimestamptzLimits pins, against the real server, the limits db.MinTime, db.MaxTime
// and db.MaxOffset are derived from: what PostgreSQL refuses as timestamptz text, and that every
// instant of the range survives both a bind parameter and the RFC 3339 text a cursor carries.
func TestPostgreSQLTimestamptzLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	x := testkit.NewDB(t)
	parses := func(text string) error {
		var out string
		return x.QueryRowContext(ctx, `SELECT $1::text::timestamptz::text`, text).Scan(&out)
	}
	for _, tc := range []struct {
		text, refusal string // refusal: "" when PostgreSQL accepts the text
	}{
		{db.MinTime.Format(time.RFC3339Nano), ""},
		{db.MaxTime.Format(time.RFC3339Nano), ""},
		{"0000-01-01T00:00:00Z", "date/time field value out of range"}, // RFC 3339 allows it
		{"2024-01-01T00:00:00+" + offset(db.MaxOffset), ""},
		{"2024-01-01T00:00:00-" + offset(db.MaxOffset), ""},
		{"2024-01-01T00:00:00+" + offset(db.MaxOffset+time.Minute), "time zone displacement out of range"}, // RFC 3339 allows up to 23:59
		{"2024-01-01T00:00:00+23:59", "time zone displacement out of range"},
		{"4714-11-24 00:00:00+00 BC", ""}, // PostgreSQL's own range, wider than ours
		{"4714-11-23 23:59:59.999999+00 BC", "timestamp out of range"},
		{"294276-12-31 23:59:59.999999+00", ""},
		{"294277-01-01 00:00:00+00", "timestamp out of range"},
	} {
		err := parses(tc.text)
		switch {
		case tc.refusal == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.text, err)
		case tc.refusal != "" && (err == nil || !strings.Contains(err.Error(), tc.refusal)):
			t.Errorf("%s: %v, want %q", tc.text, err, tc.refusal)
		}
	}

	// The bounds and their neighbours: stored as given (a bind parameter), and read back from the
	// RFC 3339 text a cursor would carry.
	for _, in := range []time.Time{db.MinTime, db.MinTime.Add(time.Microsecond), db.MaxTime, db.MaxTime.Add(-time.Microsecond)} {
		var bound, fromText time.Time
		text := in.Format(time.RFC3339Nano)
		if err := x.QueryRowContext(ctx, `SELECT $1::timestamptz, $2::text::timestamptz`, in, text).Scan(&bound, &fromText); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if !bound.Equal(in) || !fromText.Equal(in) {
			t.Errorf("%s: stored %s, from text %s", text, bound, fromText)
		}
	}
	// Just outside: TimeInRange refuses what would print as year 0000 or 10000, including a value
	// PostgreSQL's rounding to the microsecond carries past the end.
	for _, out := range []time.Time{db.MinTime.Add(-time.Microsecond), db.MaxTime.Add(time.Microsecond), db.MaxTime.Add(500 * time.Nanosecond)} {
		if db.TimeInRange(out) {
			t.Errorf("TimeInRange(%s) = true", out.Format(time.RFC3339Nano))
		}
	}
	if !db.TimeInRange(db.MaxTime.Add(499*time.Nanosecond)) || !db.TimeInRange(db.MinTime.Add(-500*time.Nanosecond)) {
		t.Error("TimeInRange refuses a value that rounds into the range")
	}
	var rounded time.Time
	if err := x.QueryRowContext(ctx, `SELECT $1::timestamptz`, db.MaxTime.Add(500*time.Nanosecond)).Scan(&rounded); err != nil {
		t.Fatal(err)
	}
	if rounded.Year() != 10000 {
		t.Errorf("PostgreSQL stored %s, want the rounding into year 10000 that TimeInRange anticipates", rounded)
	}
}

// offset writes d as an RFC 3339 offset without its sign, e.g. 15:59.
func offset(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)
}
