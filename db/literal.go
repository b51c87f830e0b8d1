package db

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// errLiteral is a value that cannot be written as a literal: PostgreSQL would refuse it as a
// parameter too (a NUL byte in text), or the data layer never sends its type.
var errLiteral = errors.New("db: value cannot be sent as a literal")

// literal writes one argument as SQL text that PostgreSQL reads exactly as it reads a text-format
// parameter of unspecified type, which is how lib/pq sends the data layer's arguments: a quoted
// literal (type unknown, resolved from where it stands, as a parameter's is) or NULL. Only typed
// values are accepted (through database/sql's own conversion: Valuers, pointers, named kinds),
// and every string goes through pq.QuoteLiteral, so nothing a client sent can end the literal.
func literal(b *strings.Builder, v any) error {
	v, err := driver.DefaultParameterConverter.ConvertValue(v)
	if err != nil {
		return fmt.Errorf("%w: %v", errLiteral, err)
	}
	switch v := v.(type) {
	case nil:
		b.WriteString("NULL")
	case int64:
		b.WriteByte('\'')
		b.WriteString(strconv.FormatInt(v, 10))
		b.WriteByte('\'')
	case float64:
		b.WriteByte('\'')
		b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		b.WriteByte('\'')
	case bool:
		if v {
			b.WriteString("'true'")
		} else {
			b.WriteString("'false'")
		}
	case string:
		if strings.IndexByte(v, 0) >= 0 { // a simple query is a C string; text cannot hold NUL
			return fmt.Errorf("%w: NUL byte in text", errLiteral)
		}
		b.WriteString(pq.QuoteLiteral(v))
	case time.Time:
		if y := v.Year(); y < 1 || y > 9999 {
			return fmt.Errorf("%w: year %d", errLiteral, y)
		}
		b.WriteByte('\'')
		b.WriteString(v.Format("2006-01-02 15:04:05.999999999Z07:00"))
		b.WriteByte('\'')
	default: // []byte: the data layer sends none (lib/pq would send them as binary bytea)
		return fmt.Errorf("%w: %T", errLiteral, v)
	}
	return nil
}

// literals is args as a comma-separated list of literals, for EXECUTE name(...).
func literals(args []any) (string, error) {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := literal(&b, a); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// inline is q with each parameter $n replaced by args[n-1] as a literal, so that it can go in a
// simple-protocol message with other statements (see statement).
func inline(q string, args []any) (string, error) {
	lits := make([]string, len(args))
	for i, a := range args {
		var b strings.Builder
		if err := literal(&b, a); err != nil {
			return "", err
		}
		lits[i] = b.String()
	}
	return statement(q, func(n int) (string, bool) {
		if n < 1 || n > len(lits) {
			return "", false
		}
		return lits[n-1], true
	})
}

// statement checks that q is one statement that can be followed by others in a simple-protocol
// message, and replaces each parameter $n by param(n). q is the data layer's own SQL (or the
// compiler's); still, a semicolon outside quotes, or a quoted string or comment left open, would
// let it end the message's other statements or swallow them (COMMIT), so they are refused.
// Parameters are recognised outside quoted strings, quoted identifiers, dollar-quoted strings and
// comments; one param does not know is an error. The result ends with a newline, which ends a
// trailing -- comment.
func statement(q string, param func(n int) (string, bool)) (string, error) {
	var b strings.Builder
	b.Grow(len(q) + 256)
	for i := 0; i < len(q); {
		switch q[i] {
		case '\'', '"', '-', '/', ';', '$':
			text, next, err := token(q, i, param)
			if err != nil {
				return "", err
			}
			b.WriteString(text)
			i = next
		default:
			b.WriteByte(q[i])
			i++
		}
	}
	b.WriteByte('\n')
	return b.String(), nil
}

// token is what statement writes for the token that may start at i (a quoted string or
// identifier, a comment, a parameter, a dollar-quoted string), and the index after it.
func token(q string, i int, param func(n int) (string, bool)) (string, int, error) {
	switch c := q[i]; {
	case c == '\'' || c == '"':
		return quoted(q, i)
	case c == '-' && strings.HasPrefix(q[i:], "--"):
		j := strings.IndexByte(q[i:], '\n')
		if j < 0 {
			j = len(q) - i
		}
		return q[i : i+j], i + j, nil
	case c == '/' && strings.HasPrefix(q[i:], "/*"):
		j := strings.Index(q[i+2:], "*/")
		if j < 0 || strings.Contains(q[i+2:i+2+j], "/*") { // PostgreSQL nests them: refuse
			return "", 0, fmt.Errorf("db: statement: unterminated or nested comment")
		}
		return q[i : i+2+j+2], i + 2 + j + 2, nil
	case c == ';':
		return "", 0, fmt.Errorf("db: statement: more than one statement")
	case c == '$':
		return dollar(q, i, param)
	}
	return q[i : i+1], i + 1, nil
}

// quoted is the string or quoted identifier that starts at i, and the index after it.
func quoted(q string, i int) (string, int, error) {
	c := q[i]
	// An E'...' string (pq.QuoteLiteral writes them) takes backslash escapes.
	escapes := c == '\'' && i > 0 && (q[i-1] == 'E' || q[i-1] == 'e') && (i < 2 || !isIdent(q[i-2]))
	j, ok := closing(q, i+1, c, escapes)
	if !ok {
		return "", 0, fmt.Errorf("db: statement: unterminated %c", c)
	}
	return q[i:j], j, nil
}

// dollar is what the $ at i stands for: itself inside an identifier (a$1), param(n) for a
// parameter $n, else a dollar-quoted string (or a lone $).
func dollar(q string, i int, param func(n int) (string, bool)) (string, int, error) {
	switch {
	case i > 0 && isIdent(q[i-1]): // inside an identifier (a$1)
		return "$", i + 1, nil
	case i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
		j := i + 1
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(q[i+1 : j])
		v, ok := param(n)
		if err != nil || !ok {
			return "", 0, fmt.Errorf("db: statement: parameter %s without an argument", q[i:j])
		}
		return v, j, nil
	}
	j, ok := dollarQuoted(q, i)
	if !ok {
		return "", 0, fmt.Errorf("db: statement: unterminated dollar quote")
	}
	return q[i:j], j, nil
}

// closing is the index after the quote that closes a string or identifier opened by quote before
// i (a doubled quote stays inside, and with escapes a backslash-escaped one).
func closing(q string, i int, quote byte, escapes bool) (int, bool) {
	for i < len(q) {
		if escapes && q[i] == '\\' {
			i += 2
			continue
		}
		if q[i] == quote {
			if i+1 < len(q) && q[i+1] == quote {
				i += 2
				continue
			}
			return i + 1, true
		}
		i++
	}
	return len(q), false
}

// dollarQuoted is the index after the dollar-quoted string that starts at i ($tag$...$tag$), or
// i+1 when the $ starts none; false when it is not closed.
func dollarQuoted(q string, i int) (int, bool) {
	j := i + 1
	for j < len(q) && (q[j] == '_' || q[j] >= 'a' && q[j] <= 'z' || q[j] >= 'A' && q[j] <= 'Z' || q[j] >= '0' && q[j] <= '9') {
		j++
	}
	if j >= len(q) || q[j] != '$' {
		return i + 1, true
	}
	tag := q[i : j+1]
	end := strings.Index(q[j+1:], tag)
	if end < 0 {
		return len(q), false
	}
	return j + 1 + end + len(tag), true
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
