package model

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// MarshalTime writes the Time scalar: RFC 3339 in UTC, always with "Z".
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format(time.RFC3339Nano)))
	})
}

// UnmarshalTime reads the Time scalar. The value must be RFC 3339 with "Z" or an explicit offset
// (time.RFC3339 requires one); it is converted to UTC. Anything else is BAD_USER_INPUT, never a
// guess at a time zone.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, timeError(fmt.Sprintf("Time must be an RFC 3339 string, got %T", v))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, timeError(fmt.Sprintf("Time %q is not RFC 3339 with a \"Z\" or an offset such as \"+05:00\"", s))
	}
	return t.UTC(), nil
}

func timeError(msg string) error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": "BAD_USER_INPUT"}}
}
