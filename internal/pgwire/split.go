package pgwire

import "strings"

// SplitStatements cuts a simple Query's text into its statements: at each semicolon outside
// quoted strings, quoted identifiers, dollar-quoted strings and comments. Statements are trimmed;
// empty ones are dropped.
func SplitStatements(sql string) []string {
	var out []string
	start := 0
	cut := func(end int) {
		if s := strings.TrimSpace(sql[start:end]); s != "" {
			out = append(out, s)
		}
		start = end + 1
	}
	for i := 0; i < len(sql); i++ {
		if sql[i] == ';' {
			cut(i)
			continue
		}
		i = tokenEnd(sql, i)
	}
	if start < len(sql) {
		cut(len(sql))
	}
	return out
}

// tokenEnd is the index of the last byte of the quoted string, quoted identifier, comment or
// dollar-quoted string that starts at i (len(sql) when it is not closed), or i when none does.
func tokenEnd(sql string, i int) int {
	switch c := sql[i]; {
	case c == '\'' || c == '"':
		return quotedEnd(sql, i)
	case c == '-' && strings.HasPrefix(sql[i:], "--"):
		if j := strings.IndexByte(sql[i:], '\n'); j >= 0 {
			return i + j
		}
		return len(sql)
	case c == '/' && strings.HasPrefix(sql[i:], "/*"):
		if j := strings.Index(sql[i+2:], "*/"); j >= 0 {
			return i + j + 3
		}
		return len(sql)
	case c == '$' && (i == 0 || !identChar(sql[i-1])):
		return dollarQuotedEnd(sql, i)
	}
	return i
}

// quotedEnd is the index of the quote that closes the string or identifier opened at i (a doubled
// quote stays inside).
func quotedEnd(sql string, i int) int {
	c := sql[i]
	for i++; i < len(sql); i++ {
		if sql[i] == c {
			if i+1 < len(sql) && sql[i+1] == c {
				i++
				continue
			}
			break
		}
	}
	return i
}

// dollarQuotedEnd is the index of the last $ of the dollar-quoted string ($tag$...$tag$) that
// starts at i, or i when the $ starts none (a parameter such as $1).
func dollarQuotedEnd(sql string, i int) int {
	j := i + 1
	for j < len(sql) && identChar(sql[j]) && !(j == i+1 && sql[j] >= '0' && sql[j] <= '9') {
		j++
	}
	if j >= len(sql) || sql[j] != '$' {
		return i
	}
	tag := sql[i : j+1]
	if end := strings.Index(sql[j+1:], tag); end >= 0 {
		return j + end + len(tag)
	}
	return len(sql)
}

func identChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// PreparedName is the name a PREPARE statement defines, or "" for another statement.
func PreparedName(stmt string) string {
	f := strings.Fields(stmt)
	if len(f) < 3 || !strings.EqualFold(f[0], "PREPARE") {
		return ""
	}
	name, _, _ := strings.Cut(f[1], "(")
	return name
}
