package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// Trusted documents: the server executes only the documents its own frontends ship, listed in a
// manifest in the format GraphQL Code Generator's client preset writes with persistedDocuments
// (a JSON object: "sha256:<hex>" or "<hex>" of the document → its text). A request names one by
// documentId or by extensions.persistedQuery.sha256Hash, or sends text whose hash is listed.

// TrustedMode is what happens to a document that is not in the manifest.
type TrustedMode string

const (
	// TrustedEnforce refuses it with TRUSTED_DOCUMENT_REQUIRED (HTTP 400), unparsed.
	TrustedEnforce TrustedMode = "enforce"
	// TrustedLog executes it, counting it and logging its operation name and hash at INFO.
	TrustedLog TrustedMode = "log"
)

// TrustedDocuments is a loaded manifest and its mode.
type TrustedDocuments struct {
	docs map[string]string // hex sha256 of the text → the text
	mode TrustedMode
	// Untrusted is called for each untrusted document (both modes); nil counts nothing.
	Untrusted func()
	logger    *slog.Logger
}

// LoadTrustedDocuments reads the manifest at path. Every entry's hash must be the sha256 of its
// text, so that a manifest cannot name a document other than the one it holds.
func LoadTrustedDocuments(path string, mode TrustedMode) (*TrustedDocuments, error) {
	if mode != TrustedEnforce && mode != TrustedLog {
		return nil, fmt.Errorf("mode %q is neither %q nor %q", mode, TrustedEnforce, TrustedLog)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var manifest map[string]string
	if err := json.Unmarshal(b, &manifest); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object of hash → document text: %v", path, err)
	}
	if len(manifest) == 0 {
		return nil, fmt.Errorf("%s lists no documents", path)
	}
	t := &TrustedDocuments{docs: make(map[string]string, len(manifest)), mode: mode}
	for key, text := range manifest {
		h := documentHash(text)
		if strings.TrimPrefix(key, "sha256:") != h {
			return nil, fmt.Errorf("%s: the entry %q is not the sha256 of its document (%s)", path, key, h)
		}
		t.docs[h] = text
	}
	return t, nil
}

// OperationNames are the names of the manifest's operations: the bounded set of labels the
// metrics may count operations by.
func (t *TrustedDocuments) OperationNames() []string {
	var names []string
	for _, text := range t.docs {
		doc, err := parser.ParseQuery(&ast.Source{Input: text})
		if err != nil {
			continue
		}
		for _, op := range doc.Operations {
			if op.Name != "" {
				names = append(names, op.Name)
			}
		}
	}
	return names
}

// Len is the number of documents.
func (t *TrustedDocuments) Len() int { return len(t.docs) }

// Enforced says whether untrusted documents are refused.
func (t *TrustedDocuments) Enforced() bool { return t.mode == TrustedEnforce }

func documentHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// verdict is what a request's document comes to.
type verdict int

const (
	pass      verdict = iota // nothing to decide here (no document at all): gqlgen answers it
	trusted                  // in the manifest
	unknownID                // a hash the manifest lacks, without text: PERSISTED_QUERY_NOT_FOUND
	untrusted                // text (or a registration) the manifest lacks
	mismatch                 // text whose hash is not the one named with it
)

// judge decides on a document named by id (a bare hex hash, or "") and/or sent as query, and
// returns the trusted text when there is one.
func (t *TrustedDocuments) judge(id, query string) (verdict, string, string) {
	id = strings.TrimPrefix(id, "sha256:")
	switch {
	case id != "":
		text, ok := t.docs[id]
		switch {
		case ok && query != "" && documentHash(query) != id:
			return mismatch, "", id
		case ok:
			return trusted, text, id
		case query == "":
			return unknownID, "", id
		}
		return untrusted, "", id
	case query == "":
		return pass, "", ""
	}
	h := documentHash(query)
	if _, ok := t.docs[h]; ok {
		return trusted, query, h
	}
	return untrusted, "", h
}

// untrustedSeen counts and logs one untrusted document: at INFO, with its operation name (cut)
// and hash, never its variables.
func (t *TrustedDocuments) untrustedSeen(ctx context.Context, operationName, hash string) {
	if t.Untrusted != nil {
		t.Untrusted()
	}
	if t.logger != nil {
		if len(operationName) > 64 {
			operationName = operationName[:64]
		}
		t.logger.InfoContext(ctx, "untrusted document", "operation", operationName, "hash", hash, "mode", string(t.mode))
	}
}

const trustedRequiredMessage = "this server executes only its trusted documents: send a document from its manifest (documentId, or extensions.persistedQuery.sha256Hash)"

// checkedKey marks a request whose document the HTTP handler has judged already, so that the
// operation hook does not count it twice.
type checkedKey struct{}

// Handler judges the document of a POST or GET request before gqlgen reads it: a trusted one
// named by documentId is put in the request as its text (with its hash as a persisted query); in
// enforce mode anything untrusted is answered here with HTTP 400 TRUSTED_DOCUMENT_REQUIRED,
// without parsing it. Other requests (WebSocket upgrades, bodies that are not a JSON object)
// pass; the operation hook (trustedParams) judges every operation of every transport again.
func (t *TrustedDocuments) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ok bool
		switch r.Method {
		case http.MethodPost:
			ok = t.checkBody(w, r)
		case http.MethodGet:
			ok = t.checkQueryString(w, r)
		default:
			ok = true
		}
		if ok {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), checkedKey{}, true)))
		}
	})
}

// request is the part of a GraphQL request the judgement reads.
type request struct {
	Query         string `json:"query"`
	OperationName string `json:"operationName"`
	DocumentID    string `json:"documentId"`
	Extensions    struct {
		PersistedQuery struct {
			Hash string `json:"sha256Hash"`
		} `json:"persistedQuery"`
	} `json:"extensions"`
}

func (q request) id() string {
	if q.DocumentID != "" {
		return q.DocumentID
	}
	return q.Extensions.PersistedQuery.Hash
}

// decide applies the verdict to w; false when it answered the request.
func (t *TrustedDocuments) decide(w http.ResponseWriter, r *http.Request, v verdict, operationName, hash string) bool {
	switch v {
	case untrusted:
		t.untrustedSeen(r.Context(), operationName, hash)
		if t.Enforced() {
			apierr.Write(w, http.StatusBadRequest, apierr.TrustedDocumentRequired, trustedRequiredMessage, nil)
			return false
		}
	case mismatch:
		apierr.Write(w, http.StatusBadRequest, apierr.BadRequest, "the document's sha256 is not the hash sent with it", nil)
		return false
	}
	return true
}

func (t *TrustedDocuments) checkBody(w http.ResponseWriter, r *http.Request) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return readBodyError(w, err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var q request
	if json.Unmarshal(body, &q) != nil {
		return true // not a GraphQL request: the transports refuse it
	}
	v, text, hash := t.judge(q.id(), q.Query)
	if !t.decide(w, r, v, q.OperationName, hash) {
		return false
	}
	// A documentId becomes a persisted query: with its text when trusted, so that an unknown one
	// is answered PERSISTED_QUERY_NOT_FOUND as a hash is.
	if q.DocumentID != "" || (v == trusted && q.Query == "") {
		var m map[string]json.RawMessage
		_ = json.Unmarshal(body, &m) // decoded above as an object
		if v == trusted {
			m["query"], _ = json.Marshal(text)
		}
		m["extensions"] = persistedExtension(m["extensions"], hash)
		delete(m, "documentId")
		body, _ = json.Marshal(m)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	return true
}

func (t *TrustedDocuments) checkQueryString(w http.ResponseWriter, r *http.Request) bool {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return true // the GET transport refuses it
	}
	q := request{Query: params.Get("query"), OperationName: params.Get("operationName"), DocumentID: params.Get("documentId")}
	if ext := params.Get("extensions"); ext != "" {
		_ = json.Unmarshal([]byte(ext), &q.Extensions)
	}
	v, text, hash := t.judge(q.id(), q.Query)
	if !t.decide(w, r, v, q.OperationName, hash) {
		return false
	}
	if q.DocumentID != "" || (v == trusted && q.Query == "") {
		if v == trusted {
			params.Set("query", text)
		}
		params.Set("extensions", string(persistedExtension(json.RawMessage(params.Get("extensions")), hash)))
		params.Del("documentId")
		r.URL.RawQuery = params.Encode()
	}
	return true
}

// persistedExtension is extensions with persistedQuery naming hash, so that the document is
// kept in the query cache under it.
func persistedExtension(raw json.RawMessage, hash string) json.RawMessage {
	ext := map[string]any{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &ext)
	}
	ext["persistedQuery"] = map[string]any{"version": 1, "sha256Hash": hash}
	b, _ := json.Marshal(ext)
	return b
}

// trustedParams judges every operation's parameters, on every transport (the WebSocket's
// subscribe messages included), before anything else reads them.
type trustedParams struct{ t *TrustedDocuments }

var (
	_ graphql.HandlerExtension          = trustedParams{}
	_ graphql.OperationParameterMutator = trustedParams{}
)

func (trustedParams) ExtensionName() string                   { return "TrustedDocuments" }
func (trustedParams) Validate(graphql.ExecutableSchema) error { return nil }
func (p trustedParams) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	var id string
	if pq, ok := raw.Extensions["persistedQuery"].(map[string]any); ok {
		id, _ = pq["sha256Hash"].(string)
	}
	v, text, hash := p.t.judge(id, raw.Query)
	switch v {
	case trusted:
		raw.Query = text
	case untrusted:
		if ctx.Value(checkedKey{}) == nil {
			p.t.untrustedSeen(ctx, raw.OperationName, hash)
		}
		if p.t.Enforced() {
			return &gqlerror.Error{Message: trustedRequiredMessage, Extensions: map[string]any{"code": apierr.TrustedDocumentRequired}}
		}
	}
	return nil
}
