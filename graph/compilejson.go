package graph

import "bytes"

// fixEscapes rewrites the escapes PostgreSQL's to_json writes differently from gqlgen's string
// writer (graphql.MarshalString): \b and \f are \u0008 and \u000C there, and the hex digits of
// \u00XX are upper case. Every backslash in the statement's JSON starts an escape inside a string
// (the rest of the text is the statement's own punctuation, numbers and base64url), so one pass
// over the backslashes finds them all; data without \b or \f is rewritten in place.
func fixEscapes(data []byte) []byte {
	i := bytes.IndexByte(data, '\\')
	if i < 0 {
		return data
	}
	var out []byte // a copy, once an escape grows
	for ; i >= 0 && i+1 < len(data); i = next(data, i) {
		switch data[i+1] {
		case 'u':
			for j := i + 2; j < i+6 && j < len(data); j++ {
				if c := data[j]; 'a' <= c && c <= 'f' {
					data[j] = c - 'a' + 'A'
				}
			}
		case 'b', 'f':
			out = growEscapes(data)
			return out
		}
	}
	return data
}

// next is the index of the backslash after the escape at i, or -1.
func next(data []byte, i int) int {
	skip := i + 2
	if data[i+1] == 'u' {
		skip = i + 6
	}
	if skip >= len(data) {
		return -1
	}
	j := bytes.IndexByte(data[skip:], '\\')
	if j < 0 {
		return -1
	}
	return skip + j
}

// growEscapes is fixEscapes for data that holds \b or \f: a copy with them spelt out.
func growEscapes(data []byte) []byte {
	out := make([]byte, 0, len(data)+64)
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\\')
		if j < 0 || i+j+1 >= len(data) {
			return append(out, data[i:]...)
		}
		out = append(out, data[i:i+j]...)
		i += j
		switch c := data[i+1]; c {
		case 'b':
			out = append(out, `\u0008`...)
			i += 2
		case 'f':
			out = append(out, `\u000C`...)
			i += 2
		case 'u':
			end := min(i+6, len(data))
			for _, h := range data[i:end] {
				if 'a' <= h && h <= 'f' {
					h = h - 'a' + 'A'
				}
				out = append(out, h)
			}
			i = end
		default:
			out = append(out, data[i], c)
			i += 2
		}
	}
	return out
}
