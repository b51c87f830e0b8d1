package live

import (
	"encoding/json"
	"strconv"
	"sync"
)

// opIDs stands between the ids a client gives its operations and the ones gqlgen sees.
//
// graphql-ws lets a client reuse an id once it has completed it. gqlgen's goroutine for the
// completed operation still runs for a moment after the client's complete: it then writes a
// complete of its own (which the client would take as the end of the new operation) and deletes
// the id's cancel func (the new operation's, by then: it could never be stopped again). So an id
// reused while gqlgen may still hold it reaches gqlgen renamed, and whatever gqlgen writes for an
// operation the client has completed is dropped: graphql-ws sends nothing more for it.
type opIDs struct {
	mu      sync.Mutex
	held    map[string]struct{} // ids gqlgen holds: open, or completed by the client and not yet ended
	stale   map[string]struct{} // ids the client completed, until gqlgen's last message for them
	renamed map[string]string   // gqlgen's id → the client's, for the renamed ones
	current map[string]string   // the client's id → gqlgen's, for renamed ones still open
	n       int
}

func newOpIDs() *opIDs {
	return &opIDs{held: map[string]struct{}{}, stale: map[string]struct{}{}, renamed: map[string]string{}, current: map[string]string{}}
}

// received notes a client message of type typ for id and returns the id gqlgen is to see.
func (o *opIDs) received(typ, id string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch typ {
	case "subscribe":
		inner := id
		for _, busy := o.held[inner]; busy; _, busy = o.held[inner] {
			o.n++
			inner = id + "\x00" + strconv.Itoa(o.n)
		}
		o.held[inner] = struct{}{}
		if inner != id {
			o.renamed[inner], o.current[id] = id, inner
		}
		return inner
	case "complete":
		inner, ok := o.current[id]
		if !ok {
			inner = id
		}
		delete(o.current, id)
		if _, open := o.held[inner]; open {
			o.stale[inner] = struct{}{}
		}
		return inner
	}
	return id
}

// sent takes gqlgen's message of type typ for id: it returns the id the client knows it by, and
// false when the message is to be dropped (the client completed the operation). gqlgen ends
// every operation with a complete, after an error too, unless the socket is closing.
func (o *opIDs) sent(typ, id string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	last := typ == "complete"
	client, isRenamed := o.renamed[id]
	if !isRenamed {
		client = id
	}
	_, isStale := o.stale[id]
	if last {
		delete(o.held, id)
		delete(o.stale, id)
		delete(o.renamed, id)
		if !isStale && isRenamed {
			delete(o.current, client)
		}
	}
	return client, !isStale
}

// busy says whether any id is renamed or stale: only then do gqlgen's messages need reading.
func (o *opIDs) busy() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.stale) > 0 || len(o.renamed) > 0
}

// withID returns the message data with its id replaced.
func withID(data []byte, id string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	m["id"] = raw
	return json.Marshal(m)
}
