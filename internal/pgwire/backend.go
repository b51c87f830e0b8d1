package pgwire

// onBackend attributes one server message to the pending client messages. The caller holds the
// proxy's mutex.
func (c *conn) onBackend(kind byte, body []byte) {
	b := buf(body)
	switch kind {
	case '1', '2', '3', 'n', 's': // ParseComplete, BindComplete, CloseComplete, NoData, PortalSuspended
		c.pop()
	case 't': // ParameterDescription
		c.onParameterTypes(&b)
	case 'T':
		c.onRowDescription(&b)
	case 'D':
		c.onDataRow(&b)
	case 'C', 'I': // CommandComplete, EmptyQueryResponse
		c.onCommandComplete(kind, &b)
	case 'E':
		c.onErrorResponse(&b)
	case 'Z':
		c.onReadyForQuery()
	}
}

// head is the oldest message still waiting for its answer, or nil.
func (c *conn) head() *op {
	if len(c.pending) == 0 {
		return nil
	}
	return &c.pending[0]
}

// pop drops the oldest waiting message: it has its whole answer.
func (c *conn) pop() {
	if len(c.pending) > 0 {
		c.pending = c.pending[1:]
	}
}

// onParameterTypes records the parameter types of a Describe of a statement.
func (c *conn) onParameterTypes(b *buf) {
	h := c.head()
	if h == nil || h.kind != 'D' || h.describe != 'S' {
		return
	}
	if pr := c.prepared[h.name]; pr != nil {
		types := make([]uint32, b.int16())
		for i := range types {
			types[i] = b.uint32()
		}
		pr.paramTypes = types
	}
}

// onRowDescription records the result columns: of a described statement or portal (which it
// answers), or of the statement being executed.
func (c *conn) onRowDescription(b *buf) {
	cols := make([]string, b.int16())
	types := make([]uint32, len(cols))
	for i := range cols {
		cols[i] = b.cstring()
		b.skip(6) // table OID, column number
		types[i] = b.uint32()
		b.skip(8) // type size, modifier, format
	}
	h := c.head()
	switch {
	case h == nil:
	case h.kind == 'D' && h.describe == 'S':
		if pr := c.prepared[h.name]; pr != nil {
			pr.columns, pr.columnTypes = cols, types
		}
		c.pop()
	case h.kind == 'D':
		if st := c.portals[h.name]; st != nil {
			st.Columns, st.ColumnTypes = cols, types
		}
		c.pop()
	case h.stmt != nil:
		h.stmt.Columns, h.stmt.ColumnTypes = cols, types
	}
}

// onDataRow counts a result row of the statement being executed, and keeps the first MaxRows.
func (c *conn) onDataRow(b *buf) {
	h := c.head()
	if h == nil || h.stmt == nil {
		return
	}
	st := h.stmt
	st.RowCount++
	if len(st.Rows) >= MaxRows {
		return
	}
	row := make([]*string, b.int16())
	for i := range row {
		if l := int32(b.uint32()); l >= 0 {
			s := st.columnText(i, b.bytes(int(l)))
			row[i] = &s
		}
	}
	st.Rows = append(st.Rows, row)
}

// onCommandComplete adds the command tag (EMPTY for an EmptyQueryResponse) to the statement being
// executed; it ends an Execute, while a simple Query may have more statements to run.
func (c *conn) onCommandComplete(kind byte, b *buf) {
	h := c.head()
	if h == nil || h.stmt == nil {
		return
	}
	tag := "EMPTY"
	if kind == 'C' {
		tag = b.cstring()
	}
	if h.stmt.Tag != "" {
		h.stmt.Tag += "; "
	}
	h.stmt.Tag += tag
	if h.kind == 'E' {
		c.pop()
	}
}

// onErrorResponse records the error on the statement it belongs to: the next one before the Sync.
func (c *conn) onErrorResponse(b *buf) {
	msg := errorText(*b)
	for i := range c.pending {
		p := &c.pending[i]
		if p.kind == 'S' {
			break
		}
		if p.stmt != nil {
			p.stmt.Err = msg
			break
		}
	}
	if h := c.head(); h != nil && h.kind != 'Q' {
		// The server skips every extended-protocol message until the next Sync.
		for len(c.pending) > 0 && c.pending[0].kind != 'S' {
			c.pop()
		}
	}
}

// onReadyForQuery: the Sync or Query it answers is done, and whatever was still waiting before it.
func (c *conn) onReadyForQuery() {
	for len(c.pending) > 0 {
		k := c.pending[0].kind
		c.pop()
		if k == 'S' || k == 'Q' {
			break
		}
	}
}

// errorText renders an ErrorResponse as "SQLSTATE: message".
func errorText(b buf) string {
	var code, msg string
	for {
		f := b.byte()
		if f == 0 {
			break
		}
		v := b.cstring()
		switch f {
		case 'C':
			code = v
		case 'M':
			msg = v
		}
	}
	return code + ": " + msg
}
