package jsonlimit

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func members(n int) []byte {
	m := map[string]int{}
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = i
	}
	b, _ := json.Marshal(map[string]any{"query": "{ me { id } }", "variables": m})
	return b
}

func TestOverCountsMembersOutsideStrings(t *testing.T) {
	for _, c := range []struct {
		data string
		max  int
		over bool
	}{
		{`{"a":1,"b":{"c":2}}`, 3, false},
		{`{"a":1,"b":{"c":2}}`, 2, true},
		{`{"a":"x:y:z\":w","b":"\\"}`, 2, false}, // colons and an escaped quote inside strings
		{`[1,2,3]`, 0, false},
		{`{"a":[{"b":1},{"c":2}]}`, 2, true},
	} {
		if got := Over([]byte(c.data), c.max); got != c.over {
			t.Errorf("Over(%s, %d) = %v, want %v", c.data, c.max, got, c.over)
		}
	}
	if Over(members(MaxMembers-2), MaxMembers) { // plus query and variables
		t.Error("a request at the bound was refused")
	}
	if !Over(members(60000), MaxMembers) {
		t.Error("60,000 members passed")
	}
	if Over([]byte(strings.Repeat(`"::::"`, 1000)), 0) {
		t.Error("colons inside strings were counted")
	}
}
