package graph

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// pgToJSON writes s as PostgreSQL's to_json(text) does (escape_json): \b \f \n \r \t, \" and \\,
// other control characters as \u00xx in lower case.
func pgToJSON(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func gqlgenString(s string) string {
	var b bytes.Buffer
	graphql.MarshalString(s).MarshalGQL(&b)
	return b.String()
}

// fixEscapes turns PostgreSQL's strings into gqlgen's, inside any JSON around them.
func TestFixEscapesWritesStringsAsGqlgen(t *testing.T) {
	alphabet := []string{"a", "é", "😀", "\"", "\\", "\\u", "u00", "<", " ", "\x7f"}
	for c := range 0x20 {
		alphabet = append(alphabet, string(rune(c)))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var parts []string
		for range 1 + rng.IntN(4) {
			var s string
			for range rng.IntN(12) {
				s += alphabet[rng.IntN(len(alphabet))]
			}
			parts = append(parts, s)
		}
		var pg, want string
		for i, s := range parts {
			pg += fmt.Sprintf(`{"k%d":%s,"n":null}`, i, pgToJSON(s))
			want += fmt.Sprintf(`{"k%d":%s,"n":null}`, i, gqlgenString(s))
		}
		if got := string(fixEscapes([]byte(pg))); got != want {
			t.Fatalf("%q:\ngot  %s\nwant %s", parts, got, want)
		}
	}
}
