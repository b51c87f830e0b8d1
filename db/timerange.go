package db

import "time"

// The instants this server stores in a timestamptz column and hands out again: years 0001 to 9999
// in UTC, to the microsecond (PostgreSQL's precision). PostgreSQL itself holds 4714 BC to 294276
// AD, but outside 0001-9999 the value no longer round-trips: RFC 3339 (the Time scalar, cursors)
// writes four-digit years, and PostgreSQL refuses year 0000 as text ("date/time field value out
// of range"), which is how a cursor carries its sort key.
var (
	MinTime = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, time.December, 31, 23, 59, 59, 999_999_000, time.UTC)
)

// MaxOffset is the largest UTC offset PostgreSQL accepts in a timestamptz literal (15:59; it
// refuses 16:00 with "time zone displacement out of range"), though RFC 3339 allows up to 23:59.
const MaxOffset = 15*time.Hour + 59*time.Minute

// TimeInRange reports whether t, rounded to the microsecond as PostgreSQL stores it, lies
// between MinTime and MaxTime.
func TimeInRange(t time.Time) bool {
	t = t.Round(time.Microsecond)
	return !t.Before(MinTime) && !t.After(MaxTime)
}
