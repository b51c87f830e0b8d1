package model

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/apierr"
)

func TestUnmarshalTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   any
		want string // RFC 3339 in UTC; "" when refused
	}{
		{"2024-03-01T12:00:00Z", "2024-03-01T12:00:00Z"},
		{"2024-03-01T12:00:00+05:30", "2024-03-01T06:30:00Z"},
		{"2024-03-01T12:00:00.1234564Z", "2024-03-01T12:00:00.123456Z"}, // rounded to the microsecond
		{"2024-03-01T12:00:00.1234565Z", "2024-03-01T12:00:00.123457Z"},
		{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"},
		{"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"},
		{"2024-01-01T00:00:00+15:59", "2023-12-31T08:01:00Z"},
		{"2024-01-01T00:00:00-15:59", "2024-01-01T15:59:00Z"},
		{"0000-01-01T00:00:00Z", ""},
		{"0001-01-01T00:00:00+00:01", ""},    // year 0000 in UTC
		{"9999-12-31T23:59:59-00:01", ""},    // year 10000 in UTC
		{"9999-12-31T23:59:59.9999995Z", ""}, // rounds into year 10000
		{"10000-01-01T00:00:00Z", ""},
		{"2024-01-01T00:00:00+16:00", ""},
		{"2024-01-01T00:00:00+23:59", ""},
		{"2024-01-01T00:00:00", ""},
		{"2024-01-01", ""},
		{"", ""},
		{1700000000, ""},
		{nil, ""},
	} {
		got, err := UnmarshalTime(tc.in)
		if tc.want == "" {
			var gerr *gqlerror.Error
			if err == nil || !errors.As(err, &gerr) || gerr.Extensions["code"] != apierr.BadUserInput {
				t.Errorf("%v: %v, %v; want BAD_USER_INPUT", tc.in, got, err)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339Nano) != tc.want || got.Location() != time.UTC {
			t.Errorf("%v: %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestUnmarshalTimeQuotesAtMost200Characters(t *testing.T) {
	t.Parallel()
	for _, in := range []string{strings.Repeat("x", 1<<20), strings.Repeat("é", 5000), "2024-01-01T00:00:00+23:59" + strings.Repeat("9", 1000)} {
		_, err := UnmarshalTime(in)
		if err == nil {
			t.Fatal("accepted")
		}
		// 200 characters quoted, a few dozen of explanation.
		if n := len([]rune(err.Error())); n > 300 {
			t.Errorf("message of %d characters: %.80s...", n, err)
		}
		if !strings.Contains(err.Error(), "bytes)") {
			t.Errorf("message does not say the value was cut: %.300s", err)
		}
	}
	if _, err := UnmarshalTime("soon"); err == nil || !strings.Contains(err.Error(), `"soon"`) || strings.Contains(err.Error(), "bytes)") {
		t.Errorf("a short value is quoted whole: %v", err)
	}
}

// TestMarshalTimeRoundTrips: whatever UnmarshalTime accepts, MarshalTime writes as a value
// UnmarshalTime reads back as the same instant.
func TestMarshalTimeRoundTrips(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2024-01-01T00:00:00+15:59", "2024-02-29T23:59:59.5-15:59"} {
		checkRoundTrip(t, in)
	}
}

func checkRoundTrip(t *testing.T, in string) {
	t.Helper()
	got, err := UnmarshalTime(in)
	if err != nil {
		return
	}
	var b strings.Builder
	MarshalTime(got).MarshalGQL(&b)
	out := strings.Trim(b.String(), `"`)
	again, err := UnmarshalTime(out)
	if err != nil || !again.Equal(got) || !strings.HasSuffix(out, "Z") {
		t.Fatalf("%q -> %s -> %v, %v", in, out, again, err)
	}
}

// FuzzUnmarshalTime: any string is either refused with BAD_USER_INPUT, quoting at most 200 of its
// characters, or read as a UTC instant, to the microsecond, within db.MinTime..db.MaxTime, that
// MarshalTime writes as RFC 3339 with four-digit years and UnmarshalTime reads back unchanged.
func FuzzUnmarshalTime(f *testing.F) {
	for _, seed := range []string{
		"2024-03-01T12:00:00Z", "2024-03-01T12:00:00.123456789+05:30", "0001-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.9999995Z", "0000-01-01T00:00:00Z",
		"2024-01-01T00:00:00+15:59", "2024-01-01T00:00:00-16:00", "2024-01-01T00:00:00+23:59",
		"2024-01-01T00:00:00", "2024-02-30T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01t00:00:00z",
		"2024-01-01T00:00:00,5Z", "+2024-01-01T00:00:00Z", "", "\xff", strings.Repeat("9", 300),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := UnmarshalTime(in)
		if err != nil {
			var gerr *gqlerror.Error
			if !errors.As(err, &gerr) || gerr.Extensions["code"] != apierr.BadUserInput {
				t.Fatalf("%q: %v is not BAD_USER_INPUT", in, err)
			}
			if n := utf8.RuneCountInString(gerr.Message); n > 200*len(`\U0010ffff`)+120 || (len(in) > 250 && n > 400 && !strings.Contains(gerr.Message, "bytes)")) {
				t.Fatalf("%q: message of %d characters", in, n)
			}
			return
		}
		if got.Location() != time.UTC || got.Nanosecond()%1000 != 0 || got.Before(db.MinTime) || got.After(db.MaxTime) {
			t.Fatalf("%q read as %v", in, got)
		}
		checkRoundTrip(t, in)
	})
}
