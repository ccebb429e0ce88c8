package cache

import "context"

// FillFunc produces the value of a key that is not cached, typically with a
// ranged GET of a segment chunk. It must honour ctx: it is cancelled when
// nobody waits for the value any more, when Options.FillTimeout expires and
// when the Cache is closed. The returned value belongs to the cache. A panic
// in a fill is not recovered: it runs in its own goroutine, so it ends the
// process rather than leaving waiters hanging.
type FillFunc = func(ctx context.Context) ([]byte, error)

// flight is one running fill. Its result fields are written before done is
// closed and only read after.
type flight struct {
	key    string
	done   chan struct{}
	cancel context.CancelFunc

	value []byte
	err   error

	// Guarded by Cache.mu.
	waiters  int  // GetOrFill callers waiting, plus one for a prefetch
	prefetch bool // started by Prefetch: counted in mu.prefetching
	deleted  bool // Delete ran meanwhile: answer waiters but cache nothing
}

// GetOrFill returns the value cached for key, or else calls fill once for
// all concurrent callers of key and caches a successful result.
//
// The fill runs in its own goroutine, detached from ctx: if ctx is done
// first, this caller returns ctx.Err() while the fill goes on for the other
// waiters. The fill's own context is cancelled only when every waiter has
// given up (or on FillTimeout or Close), so one impatient consumer cannot
// fail a fetch that others are still waiting for. A fill error is returned
// unwrapped to every waiter and nothing is cached, so the next call tries
// again.
func (c *Cache) GetOrFill(ctx context.Context, key string, fill FillFunc) ([]byte, error) {
	if v, ok := c.Get(key); ok {
		return v, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	f := c.mu.flights[key]
	switch {
	case f != nil:
		f.waiters++
	case c.lookup(key) != nil: // filled between Get and Lock
		v := c.lookup(key).value
		c.mu.Unlock()
		return v, nil
	case c.mu.closed:
		c.mu.Unlock()
		return nil, ErrClosed
	default:
		f = c.startFillLocked(key, fill, false)
	}
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.value, f.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-f.done: // finished as we gave up: take the result after all
		return f.value, f.err
	default:
	}
	f.waiters--
	if f.waiters == 0 {
		f.cancel()
		if c.mu.flights[key] == f {
			delete(c.mu.flights, key) // a later caller starts afresh
		}
	}
	return nil, ctx.Err()
}

// Prefetch starts filling key in the background if it is neither cached in
// either tier nor being filled: read-ahead for sequential consumers, who
// will ask for the next chunk shortly. At most Options.MaxPrefetches run at
// once; when that many are running the call is dropped, as it is after
// Close. Prefetch never blocks on the fill.
func (c *Cache) Prefetch(key string, fill FillFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.mu.closed, c.mu.flights[key] != nil, c.lookup(key) != nil, c.disk != nil && c.mu.disk.has(key):
		return
	case c.mu.prefetching >= c.opts.MaxPrefetches:
		c.stats.prefetchesDropped.Add(1)
		return
	}
	c.startFillLocked(key, fill, true)
}

// startFillLocked registers a flight for key and starts its goroutine. The
// caller holds c.mu and has checked that the Cache is open, so the
// WaitGroup is never added to after Close began waiting.
func (c *Cache) startFillLocked(key string, fill FillFunc, prefetch bool) *flight {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.FillTimeout)
	// A prefetch counts as a waiter that never gives up.
	f := &flight{key: key, done: make(chan struct{}), cancel: cancel, waiters: 1, prefetch: prefetch}
	c.mu.flights[key] = f
	if prefetch {
		c.mu.prefetching++
	}
	c.mu.running++
	c.stats.fills.Add(1)
	c.wg.Add(1)
	go c.runFill(ctx, f, fill)
	return f
}

// runFill calls fill, caches a successful result and wakes the waiters.
func (c *Cache) runFill(ctx context.Context, f *flight, fill FillFunc) {
	defer c.wg.Done()
	v, err := fill(ctx)
	f.cancel()

	c.mu.Lock()
	if c.mu.flights[f.key] == f {
		delete(c.mu.flights, f.key)
	}
	c.mu.running--
	if f.prefetch {
		c.mu.prefetching--
	}
	var stale []string
	switch {
	case err != nil:
		c.stats.fillErrors.Add(1)
	case f.deleted, c.lookup(f.key) != nil:
		// Deleted meanwhile, or Put meanwhile: the Put wins.
	case Charge(f.key, v) <= c.opts.MemoryBytes:
		// A result is cached even if every waiter has left: it was paid for.
		if c.disk != nil {
			stale = c.forgetDiskLocked(f.key)
		}
		c.insertLocked(f.key, v)
	}
	f.value, f.err = v, err
	c.mu.Unlock()
	removeFiles(stale)
	close(f.done)
}
