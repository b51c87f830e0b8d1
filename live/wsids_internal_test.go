package live

import "testing"

// TestOpIDsReuse: an id the client completes and reuses before gqlgen's goroutine for it has
// ended reaches gqlgen renamed; the old operation's late messages are dropped, the new one's
// carry the client's id, and once both have ended the id is taken as it is again.
func TestOpIDsReuse(t *testing.T) {
	o := newOpIDs()
	if got := o.received("subscribe", "a"); got != "a" {
		t.Fatalf("a first subscribe reached gqlgen as %q", got)
	}
	if o.busy() {
		t.Fatal("busy with nothing renamed or completed")
	}
	if got := o.received("complete", "a"); got != "a" {
		t.Fatalf("its complete reached gqlgen as %q", got)
	}
	inner := o.received("subscribe", "a") // gqlgen has not ended the first one yet
	if inner == "a" {
		t.Fatal("a reused id still held by gqlgen was not renamed")
	}
	if id, keep := o.sent("next", "a"); keep {
		t.Fatalf("an event of the completed operation went out as %q", id)
	}
	if id, keep := o.sent("complete", "a"); keep {
		t.Fatalf("the completed operation's own complete went out as %q", id)
	}
	if id, keep := o.sent("next", inner); !keep || id != "a" {
		t.Fatalf("the new operation's event: %q %v, want a true", id, keep)
	}
	if got := o.received("complete", "a"); got != inner {
		t.Fatalf("the client's complete of the new one reached gqlgen as %q, want %q", got, inner)
	}
	if _, keep := o.sent("complete", inner); keep {
		t.Fatal("the completed new operation's own complete went out")
	}
	if o.busy() {
		t.Fatalf("still busy after both ended: %+v", o)
	}
	if got := o.received("subscribe", "a"); got != "a" {
		t.Fatalf("once free, the id reached gqlgen as %q", got)
	}
	// An operation the server ends frees its id with its complete, which the client gets.
	if id, keep := o.sent("complete", "a"); !keep || id != "a" {
		t.Fatalf("a server-ended operation's complete: %q %v", id, keep)
	}
	if len(o.held) != 0 {
		t.Fatalf("ids left held: %v", o.held)
	}
}

// TestOpIDsRenamedEndsByServer: a renamed operation that the server ends reaches the client as
// its own id, and its place in the maps goes with it.
func TestOpIDsRenamedEndsByServer(t *testing.T) {
	o := newOpIDs()
	o.received("subscribe", "x")
	o.received("complete", "x")
	inner := o.received("subscribe", "x")
	if id, keep := o.sent("complete", inner); !keep || id != "x" {
		t.Fatalf("the server's complete of the renamed one: %q %v", id, keep)
	}
	o.sent("complete", "x") // the first one's late complete: dropped
	if o.busy() || len(o.held)+len(o.current) != 0 {
		t.Fatalf("left over: %+v", o)
	}
}

func TestWithID(t *testing.T) {
	got, err := withID([]byte(`{"payload":{"data":1},"id":"a\u00001","type":"next"}`), "a")
	if err != nil || string(got) != `{"id":"a","payload":{"data":1},"type":"next"}` {
		t.Fatalf("%s %v", got, err)
	}
}
