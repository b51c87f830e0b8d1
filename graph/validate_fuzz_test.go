package graph

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// refusedAs fails unless err is BAD_USER_INPUT naming field.
func refusedAs(t *testing.T, err error, field string) {
	t.Helper()
	var gerr *gqlerror.Error
	if !errors.As(err, &gerr) || gerr.Extensions["code"] != apierr.BadUserInput || gerr.Extensions["field"] != field {
		t.Fatalf("%v is not BAD_USER_INPUT on %s", err, field)
	}
}

// storedColor is the tags.color CHECK constraint.
var storedColor = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// FuzzColor: a color is refused on the field color, or normalised to what the column accepts,
// and normalising again changes nothing.
func FuzzColor(f *testing.F) {
	for _, seed := range []string{"#abc", "#ABCDEF", "#a1b2c3", "", "red", "#abcd", "#abcdeg", "abc", "#ａｂｃ", "#abc\n", "#\x00bc", "#" + strings.Repeat("a", 10000)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := color(&in)
		switch {
		case err != nil:
			refusedAs(t, err, "color")
		case in == "":
			if got != nil {
				t.Fatalf("empty color gave %q", *got)
			}
		case got == nil || !storedColor.MatchString(*got):
			t.Fatalf("%q normalised to %v, which the column refuses", in, got)
		default:
			again, err := color(got)
			if err != nil || *again != *got {
				t.Fatalf("%q: %q normalises again to %v, %v", in, *got, again, err)
			}
		}
	})
}

// FuzzParseID: an id is refused on its field, or is a UUID whose canonical text parses back to it.
func FuzzParseID(f *testing.F) {
	for _, seed := range []string{
		"8f0e8f8c-4c7b-4b8e-9a55-9c1c2d3e4f50", "8F0E8F8C-4C7B-4B8E-9A55-9C1C2D3E4F50", "8f0e8f8c4c7b4b8e9a559c1c2d3e4f50",
		"{8f0e8f8c-4c7b-4b8e-9a55-9c1c2d3e4f50}", "urn:uuid:8f0e8f8c-4c7b-4b8e-9a55-9c1c2d3e4f50", "00000000-0000-0000-0000-000000000000",
		"", "1", "1 OR 1=1", "8f0e8f8c-4c7b-4b8e-9a55-9c1c2d3e4f5", "8f0e8f8c-4c7b-4b8e-9a55-9c1c2d3e4f50\x00", "\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id, err := parseID("id", in)
		if err != nil {
			refusedAs(t, err, "id")
			return
		}
		back, err := uuid.Parse(id.String())
		if err != nil || back != id {
			t.Fatalf("%q parsed as %v, which does not round-trip: %v", in, id, err)
		}
		ids, err := parseIDs("tagIds", []string{in, id.String()}, 0)
		if err != nil || len(ids) != 2 || ids[0] != id || ids[1] != id {
			t.Fatalf("parseIDs of %q: %v, %v", in, ids, err)
		}
	})
}
