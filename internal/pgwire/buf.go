package pgwire

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// buf reads a message body; reading past its end yields zero values rather than a panic.
type buf []byte

func (b *buf) byte() byte {
	if len(*b) == 0 {
		return 0
	}
	v := (*b)[0]
	*b = (*b)[1:]
	return v
}

func (b *buf) int16() int16 {
	if len(*b) < 2 {
		*b = nil
		return 0
	}
	v := int16(uint16((*b)[0])<<8 | uint16((*b)[1]))
	*b = (*b)[2:]
	return v
}

func (b *buf) uint32() uint32 {
	if len(*b) < 4 {
		*b = nil
		return 0
	}
	v := be32(*b)
	*b = (*b)[4:]
	return v
}

func (b *buf) cstring() string {
	for i, c := range *b {
		if c == 0 {
			s := string((*b)[:i])
			*b = (*b)[i+1:]
			return s
		}
	}
	s := string(*b)
	*b = nil
	return s
}

func (b *buf) bytes(n int) []byte {
	if n > len(*b) {
		n = len(*b)
	}
	v := append([]byte(nil), (*b)[:n]...)
	*b = (*b)[n:]
	return v
}

func (b *buf) skip(n int) {
	if n > len(*b) {
		n = len(*b)
	}
	*b = (*b)[n:]
}
