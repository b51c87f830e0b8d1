package testkit

// Faults of the issuer, for the fault tests: a JWKS that hangs, and one that is gone.

// Stall makes every JWKS request from now on wait, without an answer, until release is called
// (or the client gives up): a slow Better Auth. release serves the waiting requests and ends the
// stall; it may be called more than once.
func (i *Issuer) Stall() (release func()) {
	ch := make(chan struct{})
	i.mu.Lock()
	i.stall = ch
	i.mu.Unlock()
	var done bool
	return func() {
		i.mu.Lock()
		defer i.mu.Unlock()
		if !done {
			done = true
			close(ch)
			if i.stall == ch {
				i.stall = nil
			}
		}
	}
}

// Stalled is the number of JWKS requests waiting in a stall right now.
func (i *Issuer) Stalled() int { return int(i.stalled.Load()) }

// Close stops the issuer's server: JWKS requests are refused at connect from now on, as when
// Better Auth is down.
func (i *Issuer) Close() { i.srv.Close() }
