package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/taskgraph/taskgraph/internal/pgwire"
)

// pgScript is one request's statements, replayed by pgbench as one pgbench "transaction".
type pgScript struct {
	name     string
	steps    []step
	prepared map[string]string // PREPARE statements the proxy saw, by name (the server's SQL-level prepares)
}

// step is one statement with $n placeholders and the values to bind.
type step struct {
	sql     string
	simple  bool      // sent as a simple Query message (possibly several statements)
	params  []*string // nil: NULL
	columns []string  // result columns, when known
	row     []*string // the one row it returned, when it returned exactly one
}

// scriptFromCapture turns what the proxy recorded for one request into a script.
func scriptFromCapture(name string, rec pgwire.Recording) (pgScript, error) {
	s := pgScript{name: name, prepared: rec.Prepared}
	for _, st := range rec.Statements {
		if st.Err != "" {
			return s, fmt.Errorf("%s: the server's statement failed: %s (%s)", name, st.Err, oneLine(st.SQL))
		}
		p := step{sql: st.SQL, simple: st.Simple, columns: st.Columns}
		for i, prm := range st.Params {
			if prm.Null {
				p.params = append(p.params, nil)
				continue
			}
			v, err := prm.Text()
			if err != nil {
				return s, fmt.Errorf("%s: parameter $%d of %s: %w", name, i+1, oneLine(st.SQL), err)
			}
			p.params = append(p.params, &v)
		}
		if st.RowCount == 1 && len(st.Rows) == 1 {
			p.row = st.Rows[0]
		}
		s.steps = append(s.steps, p)
	}
	return s, nil
}

// protocolOf picks pgbench's -M for replaying the server's statements as it sent them: "extended"
// (parse and plan every time, as with unnamed statements) unless the server reused named prepared
// statements, then "prepared"; and "simple" when the server sent several statements in one simple
// Query message (pgbench's extended modes cannot send those as one message). In simple mode each
// statement with arguments is sent with its values as literals: one message, parsed and planned
// each time with the values known, as the unnamed statement is.
func protocolOf(recs []pgwire.Recording) string {
	mode := "extended"
	for _, r := range recs {
		for _, st := range r.Statements {
			switch {
			case compound(st.Simple, st.SQL):
				return "simple"
			case !st.Simple && !st.Parsed:
				mode = "prepared"
			}
		}
	}
	return mode
}

// compound reports whether a simple query holds several statements.
func compound(simple bool, sql string) bool {
	return simple && strings.Contains(strings.TrimRight(strings.TrimSpace(sql), "; "), ";")
}

// quoteLiteral is v as an SQL string literal.
func quoteLiteral(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

var (
	placeholder = regexp.MustCompile(`\$([0-9]+)`)
	pgbenchName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// render writes the script for pgbench and the -D definitions of its variables, all prefixed so
// that several scripts can run in one pgbench. Parameters become :variables; NULLs are written
// as NULL. A parameter whose value the server produced earlier in the request (the id a
// RETURNING gave) becomes a \gset variable of that statement, so the replay uses the new row's id
// rather than the recorded one. In mode "simple" (protocolOf) parameters are written as literals
// (pgbench substitutes variables as text there, ':var' quoted), and a simple query of several
// statements becomes one compound command (\;), sent as one message as the server sent it.
func (s pgScript) render(prefix, mode string, prepares []string) (text string, defines []string, err error) {
	r := &scriptRenderer{script: s, prefix: prefix, simple: mode == "simple", sent: map[string]bool{},
		produced: map[string][2]string{}, gset: make([]bool, len(s.steps))}
	bodies := make([]string, len(s.steps)) // each statement with its placeholders replaced
	for j, st := range s.steps {
		if st.simple { // a simple Query has no parameters: its values are in its text
			bodies[j] = simpleBody(st.sql)
			continue
		}
		if bodies[j], err = r.body(j, st); err != nil {
			return "", nil, err
		}
		r.remember(j, st)
	}
	return r.write(bodies, prepares), r.defines, nil
}

// scriptRenderer is render's state: the values sent and produced so far, the steps that must
// store their row, the -D definitions.
type scriptRenderer struct {
	script   pgScript
	prefix   string
	simple   bool
	sent     map[string]bool      // values the client sent so far
	produced map[string][2]string // value → (step index, column) of a one-row result
	gset     []bool               // steps that must store their row
	defines  []string
}

// body is step j's statement with each $n replaced by its value, a variable or NULL.
func (r *scriptRenderer) body(j int, st step) (string, error) {
	var bad error
	body := placeholder.ReplaceAllStringFunc(oneLine(st.sql), func(m string) string {
		n, _ := strconv.Atoi(m[1:])
		if n < 1 || n > len(st.params) {
			bad = fmt.Errorf("%s: %s has no parameter %s", r.script.name, oneLine(st.sql), m)
			return m
		}
		return r.param(j, n, st.params[n-1])
	})
	return body, bad
}

// param is parameter n of step j as the script writes it.
func (r *scriptRenderer) param(j, n int, v *string) string {
	if v == nil {
		return "NULL"
	}
	if src, ok := r.produced[*v]; ok && !r.sent[*v] {
		k, _ := strconv.Atoi(src[0])
		r.gset[k] = true
		if r.simple {
			return "':" + r.prefix + "r" + src[0] + "_" + src[1] + "'"
		}
		return ":" + r.prefix + "r" + src[0] + "_" + src[1]
	}
	if r.simple {
		return quoteLiteral(*v)
	}
	name := fmt.Sprintf("%ss%d_%d", r.prefix, j, n)
	r.defines = append(r.defines, name+"="+*v)
	return ":" + name
}

// remember notes the values step j sent and those its one row produced.
func (r *scriptRenderer) remember(j int, st step) {
	for _, v := range st.params {
		if v != nil {
			r.sent[*v] = true
		}
	}
	if st.row == nil || len(st.row) != len(st.columns) {
		return
	}
	seen := map[string]bool{}
	for c, name := range st.columns {
		v := st.row[c]
		// Short values (counts, flags) would match by accident; ids are long.
		if v == nil || len(*v) < 8 || r.sent[*v] || seen[name] || !pgbenchName.MatchString(name) {
			continue
		}
		seen[name] = true
		if _, dup := r.produced[*v]; !dup {
			r.produced[*v] = [2]string{strconv.Itoa(j), name}
		}
	}
}

// write is the script: the once-per-client PREPAREs, then each statement.
func (r *scriptRenderer) write(bodies, prepares []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- %s\n", r.script.name)
	if len(prepares) > 0 {
		// The server PREPAREs a statement once per session, then EXECUTEs it: each pgbench
		// client does the same, once, for every statement the scripts execute.
		b.WriteString("\\if :" + preparedFlag + " = 0\n")
		for _, p := range prepares {
			b.WriteString(oneLine(p) + ";\n")
		}
		b.WriteString("\\set " + preparedFlag + " 1\n\\endif\n")
	}
	for j, body := range bodies {
		if body == "" {
			continue
		}
		if r.gset[j] {
			fmt.Fprintf(&b, "%s \\gset %sr%d_\n", body, r.prefix, j)
		} else {
			fmt.Fprintf(&b, "%s;\n", body)
		}
	}
	return b.String()
}

// oneLine makes sql one line of the script: whitespace outside quotes collapses to one space,
// comments go (a -- comment would swallow the rest of the line), quoted text stays as it is.
func oneLine(sql string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		if end, ok := commentEnd(sql, i); ok {
			i, space = end, b.Len() > 0
			continue
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if c == '\'' || c == '"' {
			j := quoteEnd(sql, i)
			b.WriteString(sql[i : j+1])
			i = j
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// commentEnd says whether a comment starts at sql[i], and where the loop resumes after it (the
// line's end for --, the closing / of */, or the text's end).
func commentEnd(sql string, i int) (int, bool) {
	switch {
	case strings.HasPrefix(sql[i:], "--"):
		if k := strings.IndexByte(sql[i:], '\n'); k >= 0 {
			return i + k, true
		}
		return len(sql), true
	case strings.HasPrefix(sql[i:], "/*"):
		if k := strings.Index(sql[i+2:], "*/"); k >= 0 {
			return i + k + 3, true
		}
		return len(sql), true
	}
	return i, false
}

// quoteEnd is the index of the quote that closes the one at sql[i] (a doubled quote is part of
// the text), or the text's last byte.
func quoteEnd(sql string, i int) int {
	c := sql[i]
	j := i + 1
	for ; j < len(sql); j++ {
		if sql[j] == c {
			if j+1 < len(sql) && sql[j+1] == c {
				j++
				continue
			}
			break
		}
	}
	return min(j, len(sql)-1)
}

// preparedFlag is the pgbench variable that says a client has prepared the scripts' statements.
const preparedFlag = "tg_prepared"

// simpleBody is a simple Query as one pgbench command: its statements joined with \; (sent as one
// message, as the server sent them), without the PREPAREs and DEALLOCATEs of the server's
// statement bookkeeping, which the scripts' header does once per client instead.
func simpleBody(sql string) string {
	var kept []string
	for _, st := range pgwire.SplitStatements(sql) {
		if pgwire.PreparedName(st) != "" || strings.HasPrefix(strings.ToUpper(st), "DEALLOCATE ") {
			continue
		}
		kept = append(kept, oneLine(st))
	}
	return strings.Join(kept, ` \; `)
}

// executed are the names of the prepared statements the scripts EXECUTE, and their PREPAREs as
// the proxy saw them; an EXECUTE of a name never seen prepared is an error.
func executed(scripts []pgScript) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, s := range scripts {
		for _, st := range s.steps {
			if !st.simple {
				continue
			}
			for _, stmt := range pgwire.SplitStatements(st.sql) {
				f := strings.Fields(stmt)
				if len(f) < 2 || !strings.EqualFold(f[0], "EXECUTE") {
					continue
				}
				name, _, _ := strings.Cut(f[1], "(")
				if seen[name] {
					continue
				}
				seen[name] = true
				p, ok := s.prepared[name]
				if !ok {
					return nil, fmt.Errorf("%s: EXECUTE %s, but the proxy never saw it prepared", s.name, name)
				}
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// pgbenchResult is what pgbench reported.
type pgbenchResult struct {
	TPS        float64 // transactions (= requests) per second, without connection time
	LatencyAvg float64 // ms
	Failed     int
	P99        float64 // ms, from the -l logs (pgbenchJob.latencies), else 0
	Output     string
}

var (
	tpsLine     = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	latencyLine = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
	failedLine  = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

func parsePgbench(out string) (pgbenchResult, error) {
	r := pgbenchResult{Output: out}
	m := tpsLine.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no tps line in pgbench output")
	}
	r.TPS, _ = strconv.ParseFloat(m[1], 64)
	if m := latencyLine.FindStringSubmatch(out); m != nil {
		r.LatencyAvg, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := failedLine.FindStringSubmatch(out); m != nil {
		r.Failed, _ = strconv.Atoi(m[1])
	}
	if strings.Contains(out, "aborted") {
		return r, fmt.Errorf("a pgbench client aborted")
	}
	return r, nil
}

// runPgbench runs the scripts (equal weights) against the database with the given protocol,
// writing them to dir as tag-N.sql so that they can be read and re-run by hand.
func runPgbench(ctx context.Context, cfg config, dbName, mode, dir, tag string, scripts []pgScript) (pgbenchResult, error) {
	dbURL, err := withDatabase(cfg.PGURL, dbName)
	if err != nil {
		return pgbenchResult{}, err
	}
	return pgbenchJob{url: dbURL, clients: cfg.Conns, duration: cfg.PgbenchDur, mode: mode, dir: dir, tag: tag, scripts: scripts}.run(ctx)
}

// pgbenchJob is one pgbench run of scripts against a database.
type pgbenchJob struct {
	url      string // the database, as a postgres:// URL
	clients  int
	duration time.Duration
	mode     string // -M: protocolOf's choice
	dir, tag string // where the scripts, the output and the latency logs go
	scripts  []pgScript
	// latencies: -l, a log line per transaction, read back into pgbenchResult.P99.
	latencies bool
}

func (j pgbenchJob) run(ctx context.Context) (pgbenchResult, error) {
	u, err := url.Parse(j.url)
	if err != nil {
		return pgbenchResult{}, err
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	args := append(pgConnArgs(j.url), "-n", "-c", strconv.Itoa(j.clients), "-j", strconv.Itoa(min(workers(), j.clients)),
		"-T", strconv.Itoa(int(max(time.Second, j.duration).Seconds())), "-M", j.mode)
	prefix := filepath.Join(j.dir, j.tag+"-latency")
	if j.latencies {
		abs, _ := filepath.Abs(prefix)
		args = append(args, "-l", "--log-prefix="+abs)
		old, _ := filepath.Glob(prefix + ".*")
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	scripts, err := j.writeScripts()
	if err != nil {
		return pgbenchResult{}, err
	}
	args = append(append(args, scripts...), dbName)
	cmd := exec.CommandContext(ctx, "pgbench", args...)
	cmd.Env = append(baseEnv(), "PGPASSWORD="+pgPassword(j.url))
	out, runErr := cmd.CombinedOutput()
	if err := os.WriteFile(filepath.Join(j.dir, j.tag+".out"), out, 0o644); err != nil {
		return pgbenchResult{}, err
	}
	r, err := parsePgbench(string(out))
	if runErr != nil && err == nil {
		err = fmt.Errorf("pgbench: %v", runErr)
	}
	if err == nil && j.latencies {
		r.P99, err = logP99(prefix)
	}
	if err != nil {
		return r, fmt.Errorf("%w (see %s)", err, filepath.Join(j.dir, j.tag+".out"))
	}
	return r, nil
}

// writeScripts renders the job's scripts into its folder and returns pgbench's -f and -D
// arguments for them.
func (j pgbenchJob) writeScripts() ([]string, error) {
	prepares, err := executed(j.scripts)
	if err != nil {
		return nil, err
	}
	var args, defines []string
	if len(prepares) > 0 {
		defines = append(defines, preparedFlag+"=0")
	}
	for i, s := range j.scripts {
		text, defs, err := s.render(fmt.Sprintf("%s%d_", strings.ReplaceAll(j.tag, "-", "_"), i), j.mode, prepares)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(j.dir, fmt.Sprintf("%s-%d.sql", j.tag, i))
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return nil, err
		}
		abs, _ := filepath.Abs(path)
		args = append(args, "-f", abs+"@1")
		defines = append(defines, defs...)
	}
	for _, d := range defines {
		args = append(args, "-D", d)
	}
	return args, nil
}

// logP99 is the 99th percentile of the transaction latencies in pgbench's -l logs (prefix.<pid>
// and prefix.<pid>.<thread>), in ms.
func logP99(prefix string) (float64, error) {
	files, err := filepath.Glob(prefix + ".*")
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("no pgbench latency log %s.*", prefix)
	}
	var all []time.Duration
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return 0, err
		}
		ls, err := parseLatencyLog(fh)
		fh.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", f, err)
		}
		all = append(all, ls...)
	}
	if len(all) == 0 {
		return 0, fmt.Errorf("pgbench latency logs %s.* are empty", prefix)
	}
	_, _, p99, _ := quantilesMS(all)
	return p99, nil
}

// parseLatencyLog reads pgbench's per-transaction log: "client_id transaction_no time script_no
// time_epoch time_us", time in µs (a failed or skipped transaction logs "failed" or "skipped"
// there: they are not latencies).
func parseLatencyLog(r io.Reader) ([]time.Duration, error) {
	var out []time.Duration
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			return nil, fmt.Errorf("line %d: %d fields, want 6", n, len(f))
		}
		if f[2] == "failed" || f[2] == "skipped" {
			continue
		}
		us, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: latency %q: %v", n, f[2], err)
		}
		out = append(out, time.Duration(us)*time.Microsecond)
	}
	return out, sc.Err()
}
