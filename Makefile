# The README's test command is `make test`: vet, gofmt, the Go tests (with the race detector)
# against the local PostgreSQL, then the end-to-end suite against a real Better Auth.
GO ?= go
GOFILES = $(shell find . -name '*.go' -not -path '*/node_modules/*')
NODE_DIRS = examples/better-auth examples/urql-client e2e

.PHONY: test vet fmt-check unit fuzz e2e node-deps run dev build generate bench

test: vet fmt-check unit fuzz e2e

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 ./...

# A short run of every fuzz target (package:target), FUZZTIME each; `unit` already replays their
# seeds and testdata/fuzz corpora. A failing input is written to the package's testdata/fuzz.
# Longer: make fuzz FUZZTIME=5m.
FUZZTIME ?= 5s
FUZZ_TARGETS = ./auth:FuzzMiddleware ./db:FuzzCursor ./graph/model:FuzzUnmarshalTime ./graph:FuzzColor \
	./graph:FuzzParseID ./graph:FuzzGraphQLAnonymous ./graph:FuzzGraphQLSignedIn
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# npm ci only where node_modules is missing, so a fresh clone needs nothing but `make test`.
node-deps:
	@for d in $(NODE_DIRS); do \
		if [ -f $$d/package-lock.json ] && [ ! -d $$d/node_modules ]; then \
			echo "npm ci in $$d"; (cd $$d && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
		fi; \
	done

e2e: node-deps
	@if [ -f e2e/package.json ]; then cd e2e && npm test; else echo "no e2e suite yet"; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

run dev:
	$(GO) run . dev

build:
	$(GO) build -o bin/taskgraph .

generate:
	$(GO) generate ./...
