// Package jsonlimit bounds what decoding a JSON document costs before it is decoded: decoding an
// object into a map allocates per member, so a 1 MiB body of 60,000 members cost 100+ ms of CPU
// and megabytes of garbage. Members counts the members of every object in one pass over the
// bytes, without allocating, and stops as soon as the bound is passed.
package jsonlimit

// MaxMembers bounds the members of all the objects of a request (its variables, extensions,
// connection_init payload, the envelope itself): this API's largest input is a handful of
// fields, so 1,000 is far above any honest request.
const MaxMembers = 1000

// Over says whether data holds more than max object members in all. Each member of an object
// has exactly one colon outside strings, so counting those suffices; data that is not JSON is
// left for the decoder to refuse.
func Over(data []byte, max int) bool {
	n := 0
	inString, escaped := false, false
	for _, b := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == ':':
			if n++; n > max {
				return true
			}
		}
	}
	return false
}
