package testkit

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

// ForgeCursor returns cursor with its sort value replaced by v (nil: a NULL key), keeping its
// binding: what a client that reads its own cursors can send.
func ForgeCursor(t testing.TB, cursor string, v any) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	c["v"] = v
	raw, _ = json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}
