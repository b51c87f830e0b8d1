package pgwire

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// MaxRows is how many result rows a Statement keeps; RowCount counts them all.
const MaxRows = 100

// Statement is one executed statement as the client sent it, with what the server answered.
type Statement struct {
	Conn   int    // which proxied connection (1, 2, ... in accept order)
	SQL    string // the statement text, as parsed (extended protocol) or queried (simple)
	Simple bool   // sent as a simple Query message; then it has no Params
	Name   string // the prepared statement's name; "" is the unnamed statement
	// Parsed is true when the client sent a Parse for this statement before this execution (always
	// the case for the unnamed statement), false when it reused a prepared statement.
	Parsed      bool
	Params      []Param
	Columns     []string    // result column names, when the client asked (Describe) or the query said
	ColumnTypes []uint32    // their type OIDs
	Rows        [][]*string // the first MaxRows rows in text format (binary columns decoded); nil is NULL
	// RowCount is the number of rows returned.
	RowCount int
	Tag      string // the command tag(s), e.g. "SELECT 20" or "BEGIN"
	Err      string // "SQLSTATE: message" when the server refused it

	resultFormats []int16 // from Bind: none (all text), one (all), or one per column
}

// columnText renders result column i in text format: as sent when the client asked for text,
// decoded when it asked for binary (lib/pq does for uuid and int2, among others), hex otherwise.
func (s *Statement) columnText(i int, v []byte) string {
	if formatOf(s.resultFormats, i) == 0 {
		return string(v)
	}
	p := Param{Binary: true, Value: v}
	if i < len(s.ColumnTypes) {
		p.Type = s.ColumnTypes[i]
	}
	t, err := p.Text()
	if err != nil {
		return `\x` + hex.EncodeToString(v)
	}
	return t
}

func (s *Statement) clone() Statement {
	c := *s
	c.Params = append([]Param(nil), s.Params...)
	c.Columns = append([]string(nil), s.Columns...)
	c.ColumnTypes = append([]uint32(nil), s.ColumnTypes...)
	c.Rows = append([][]*string(nil), s.Rows...)
	return c
}

// Param is one bound parameter.
type Param struct {
	Type   uint32 // the type OID the server inferred (ParameterDescription) or the client declared; 0 if unknown
	Binary bool   // sent in binary format
	Null   bool
	Value  []byte
}

// Type OIDs that Text decodes from binary.
const (
	oidBool        = 16
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidFloat4      = 700
	oidFloat8      = 701
	oidUnknown     = 705
	oidVarchar     = 1043
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidUUID        = 2950
)

// Text is the parameter in PostgreSQL's text format, as psql or pgbench would send it. Text-format
// parameters are returned as they are; binary ones are decoded for common scalar types, and an
// error names a type it cannot decode. A NULL is an error: callers decide how to spell it.
func (p Param) Text() (string, error) {
	if p.Null {
		return "", fmt.Errorf("pgwire: NULL parameter has no text")
	}
	if !p.Binary {
		return string(p.Value), nil
	}
	d, ok := binaryText[p.Type]
	if !ok {
		return "", fmt.Errorf("pgwire: cannot render a binary parameter of type OID %d as text", p.Type)
	}
	if d.size >= 0 && len(p.Value) != d.size {
		return "", fmt.Errorf("pgwire: binary parameter of type %d has %d bytes, want %d", p.Type, len(p.Value), d.size)
	}
	return d.text(p.Value)
}

// binaryDecoder turns a binary value of one type into its text format.
type binaryDecoder struct {
	size int // the value's length in bytes; -1: any
	text func(v []byte) (string, error)
}

// binaryText are the decoders of the types Text decodes from binary, by type OID.
var binaryText = map[uint32]binaryDecoder{
	oidText:    {-1, asText},
	oidVarchar: {-1, asText},
	oidUnknown: {-1, asText},
	oidBool:    {1, func(v []byte) (string, error) { return strconv.FormatBool(v[0] != 0), nil }},
	oidInt2: {2, func(v []byte) (string, error) {
		return strconv.Itoa(int(int16(binary.BigEndian.Uint16(v)))), nil
	}},
	oidInt4: {4, func(v []byte) (string, error) {
		return strconv.Itoa(int(int32(binary.BigEndian.Uint32(v)))), nil
	}},
	oidInt8: {8, func(v []byte) (string, error) {
		return strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10), nil
	}},
	oidFloat4: {4, func(v []byte) (string, error) {
		return strconv.FormatFloat(float64(math.Float32frombits(binary.BigEndian.Uint32(v))), 'g', -1, 32), nil
	}},
	oidFloat8: {8, func(v []byte) (string, error) {
		return strconv.FormatFloat(math.Float64frombits(binary.BigEndian.Uint64(v)), 'g', -1, 64), nil
	}},
	oidUUID:        {-1, uuidText},
	oidTimestamp:   {8, func(v []byte) (string, error) { return timestamp(v).Format("2006-01-02 15:04:05.999999"), nil }},
	oidTimestamptz: {8, func(v []byte) (string, error) { return timestamp(v).Format("2006-01-02 15:04:05.999999Z07:00"), nil }},
	oidBytea:       {-1, func(v []byte) (string, error) { return `\x` + hex.EncodeToString(v), nil }},
}

func asText(v []byte) (string, error) { return string(v), nil }

func uuidText(v []byte) (string, error) {
	u, err := uuid.FromBytes(v)
	if err != nil {
		return "", fmt.Errorf("pgwire: binary uuid: %w", err)
	}
	return u.String(), nil
}

// timestamp is a binary timestamp or timestamptz: microseconds since 2000-01-01 00:00:00 UTC.
func timestamp(v []byte) time.Time {
	return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(int64(binary.BigEndian.Uint64(v))) * time.Microsecond)
}
