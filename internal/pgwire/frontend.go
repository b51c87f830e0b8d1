package pgwire

// onFrontend records one client message. The caller holds the proxy's mutex.
func (c *conn) onFrontend(kind byte, body []byte) {
	b := buf(body)
	switch kind {
	case 'P':
		c.onParse(&b)
	case 'B':
		c.onBind(&b)
	case 'D':
		c.onDescribe(&b)
	case 'E':
		c.onExecute(&b)
	case 'S':
		c.onSync()
	case 'Q':
		c.onQuery(&b)
	case 'C':
		c.onClose()
	}
}

// onParse records a Parse: name, query, parameter types.
func (c *conn) onParse(b *buf) {
	name, sql := b.cstring(), b.cstring()
	types := make([]uint32, b.int16())
	for i := range types {
		types[i] = b.uint32()
	}
	c.prepared[name] = &prepared{sql: sql, paramTypes: types, fresh: true}
	c.pending = append(c.pending, op{kind: 'P'})
}

// onBind records a Bind: portal, statement, parameter formats, parameters, result formats.
func (c *conn) onBind(b *buf) {
	portal, name := b.cstring(), b.cstring()
	formats := make([]int16, b.int16())
	for i := range formats {
		formats[i] = b.int16()
	}
	pr := c.prepared[name]
	if pr == nil { // prepared before the proxy could see it: unknown text
		pr = &prepared{sql: "<unknown prepared statement " + name + ">"}
	}
	st := &Statement{Conn: c.id, SQL: pr.sql, Name: name, Parsed: pr.fresh, Columns: pr.columns, ColumnTypes: pr.columnTypes}
	pr.fresh = false
	st.Params = readParams(b, formats, pr.paramTypes)
	st.resultFormats = make([]int16, max(0, int(b.int16())))
	for i := range st.resultFormats {
		st.resultFormats[i] = b.int16()
	}
	c.portals[portal] = st
	c.pending = append(c.pending, op{kind: 'B'})
}

// readParams reads a Bind's parameters, each in its format (formats: none for all text, one for
// all, or one per parameter) and with its type when the statement's are known.
func readParams(b *buf, formats []int16, types []uint32) []Param {
	params := make([]Param, int(b.int16()))
	for i := range params {
		p := Param{Binary: formatOf(formats, i) == 1}
		if i < len(types) {
			p.Type = types[i]
		}
		if l := int32(b.uint32()); l < 0 {
			p.Null = true
		} else {
			p.Value = b.bytes(int(l))
		}
		params[i] = p
	}
	return params
}

// formatOf is value i's format code in a Bind's list of formats: none means text (0) for all, one
// applies to all, otherwise one per value.
func formatOf(formats []int16, i int) int16 {
	switch {
	case len(formats) == 1:
		return formats[0]
	case i < len(formats):
		return formats[i]
	}
	return 0
}

// onDescribe records a Describe: 'S' or 'P', name.
func (c *conn) onDescribe(b *buf) {
	d := b.byte()
	c.pending = append(c.pending, op{kind: 'D', describe: d, name: b.cstring()})
}

// onExecute records an Execute: portal, max rows.
func (c *conn) onExecute(b *buf) {
	st := c.portals[b.cstring()]
	if st == nil {
		st = &Statement{Conn: c.id, SQL: "<unknown portal>"}
	}
	c.p.stmts = append(c.p.stmts, st)
	c.pending = append(c.pending, op{kind: 'E', stmt: st})
}

// onSync records a Sync: the end of a round trip.
func (c *conn) onSync() {
	c.p.roundTrips++
	c.pending = append(c.pending, op{kind: 'S'})
}

// onQuery records a simple Query, a round trip of its own, and the PREPARE statements it holds.
func (c *conn) onQuery(b *buf) {
	c.p.roundTrips++
	st := &Statement{Conn: c.id, SQL: b.cstring(), Simple: true}
	for _, s := range SplitStatements(st.SQL) {
		if name := PreparedName(s); name != "" {
			if c.p.prepared == nil {
				c.p.prepared = map[string]string{}
			}
			c.p.prepared[name] = s
		}
	}
	c.p.stmts = append(c.p.stmts, st)
	c.pending = append(c.pending, op{kind: 'Q', stmt: st})
}

// onClose records a Close.
func (c *conn) onClose() {
	c.pending = append(c.pending, op{kind: 'C'})
}
