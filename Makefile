# The README's test command is `make test`: vet, gofmt, a check that graph/ holds gqlgen's output
# as generated, the Go tests (with the race detector) against the local PostgreSQL, a check that
# the committed IDE build matches its source, then the end-to-end suite (a real Better Auth, the
# schema as tools fetch it, the IDE in Debian's Chromium).
GO ?= go
GOFILES = $(shell find . -name '*.go' -not -path '*/node_modules/*')
NODE_DIRS = examples/better-auth examples/urql-client examples/web e2e ide/web

.PHONY: test vet fmt-check generate-check unit unit-pgbouncer fuzz ide ide-check e2e node-deps run dev build generate bench bench-go soak web web-build

test: vet fmt-check generate-check unit unit-pgbouncer fuzz ide-check e2e

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# graph/'s gqlgen files are committed exactly as gqlgen writes them (nothing rewrites them):
# `go generate ./graph` runs in a temporary copy of the tree, and any file it would change fails.
generate-check:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	git ls-files -z --cached --others --exclude-standard | \
		tar --null -T - --ignore-failed-read -cf - | tar -xf - -C "$$tmp" && \
	cp -r "$$tmp/graph" "$$tmp/graph.committed" && (cd "$$tmp" && $(GO) generate ./graph) && \
	if diff -r "$$tmp/graph.committed" "$$tmp/graph" >/dev/null; then echo "graph/ is what go generate ./graph writes"; \
	else diff -rq "$$tmp/graph.committed" "$$tmp/graph"; echo "gqlgen's output differs: run 'make generate' and commit it"; exit 1; fi

unit:
	$(GO) test -race -count=1 ./...
	# issue 18's differential test at full length (10,000 operations), without the race detector
	$(GO) test -count=1 -run '^TestCompiledReadsEqualResolvers$$' ./graph

# The data suites again with the server's pool going through a real PgBouncer in transaction
# pooling mode (4 server connections per test database; needs Debian's pgbouncer): every query
# and mutation, the isolation and cursor cases, the sub lookup, live updates with a direct
# listener. The three-replica test (systemtest/replicas_test.go) runs through PgBouncer in `unit` already.
PGBOUNCER_SUITES = ./db ./graph ./live
unit-pgbouncer:
	TEST_POOLER=pgbouncer $(GO) test -race -count=1 $(PGBOUNCER_SUITES)

# A short run of every fuzz target (package:target), FUZZTIME each; `unit` already replays their
# seeds and testdata/fuzz corpora. A failing input is written to the package's testdata/fuzz.
# Longer: make fuzz FUZZTIME=5m.
FUZZTIME ?= 5s
FUZZ_TARGETS = ./auth:FuzzMiddleware ./db:FuzzCursor ./db:FuzzInlineStaysOneStatement ./graph/model:FuzzUnmarshalTime ./graph:FuzzColor \
	./graph:FuzzParseID ./graph:FuzzGraphQLAnonymous ./graph:FuzzGraphQLSignedIn
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# npm ci only where node_modules is missing or older than the lockfile, so a fresh clone needs nothing but `make test`.
node-deps:
	@for d in $(NODE_DIRS); do \
		if [ -f $$d/package-lock.json ] && { [ ! -f $$d/node_modules/.package-lock.json ] || \
			[ $$d/package-lock.json -nt $$d/node_modules/.package-lock.json ]; }; then \
			echo "npm ci in $$d"; (cd $$d && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
		fi; \
	done

# GraphiQL's assets (ide/dist, embedded by the binary) are built from ide/web and committed, so
# `go build` needs no npm. `make ide` rebuilds them; `make ide-check` rebuilds into a temporary
# folder and fails when the committed ones differ (the build is reproducible).
ide: node-deps
	cd ide/web && npm run build

ide-check: node-deps
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd ide/web && npx tsc -p . && npx vite build --logLevel error --outDir "$$tmp" --emptyOutDir) && \
	if diff -r "$$tmp" ide/dist >/dev/null; then echo "ide/dist matches ide/web"; \
	else diff -rq "$$tmp" ide/dist; echo "ide/dist is stale: run 'make ide' and commit ide/dist"; exit 1; fi

e2e: node-deps web-build
	@if [ -f e2e/package.json ]; then cd e2e && npm test; else echo "no e2e suite yet"; fi

# The task app (examples/web): `make web` serves the whole stack for a person (PostgreSQL as for
# `go run . dev`): both sides' migrations, the Next.js app on WEB_PORT (3000), taskgraph on ADDR
# (8080). `make web-build` is what the browser suite needs: the committed gql/ matching the
# schema and documents (codegen), `tsc --noEmit` (strict) clean, and `next build` when the build
# is older than a source file.
web:
	bash examples/web/scripts/web.sh

web-build: node-deps
	cd examples/web && npm run check && bash scripts/build.sh
	@git diff --quiet -- examples/web/gql || { echo "examples/web/gql is stale: commit what npm run codegen wrote"; exit 1; }

# The load benchmark (bench/README.md): builds the server, seeds a fresh database, measures every
# scenario and pgbench on the same rows. BENCH_DURATION, BENCH_CONNS, BENCH_BASELINE=<git rev>, ...
bench:
	$(GO) run ./bench

# The soak (bench/README.md, "Soak"): honest load with issue 9's attacks mixed in, through a real
# serve process; a few minutes (SOAK_DURATION), not part of make test.
soak:
	$(GO) run ./bench soak

# The go test benchmarks: token verification, cursors, the resolver path on a warm database.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The commit for `taskgraph version` when the toolchain cannot stamp it (-buildvcs=false, no .git).
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS ?= -X main.commit=$(COMMIT)

run dev:
	$(GO) run -ldflags '$(LDFLAGS)' . dev

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/taskgraph .

generate:
	$(GO) generate ./...
