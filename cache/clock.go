package cache

import "sync/atomic"

// entryOverhead estimates the bytes each memory entry costs beyond its key
// and value: the entry struct (about 80 bytes), its node in the sync.Map
// index (about 48) and the index's interior nodes amortized over entries.
// It keeps a budget honest when values are small.
const entryOverhead = 160

// Charge returns what an entry costs against Options.MemoryBytes. It is
// exported so callers can size a budget in entries.
func Charge(key string, value []byte) int64 {
	return int64(len(key)) + int64(len(value)) + entryOverhead
}

// entry is one value resident in the memory tier.
type entry struct {
	key    string
	value  []byte // immutable and shared with every reader
	charge int64  // Charge(key, value), fixed at creation

	// ref is the CLOCK reference bit: set by Get without Cache.mu, cleared by
	// the hand with Cache.mu held.
	ref atomic.Bool

	// next and prev link the ring; guarded by Cache.mu.
	next, prev *entry
}

// clock is the memory tier's replacement policy: a ring of entries and a
// hand. New entries go just behind the hand, so they are examined last. To
// choose a victim the hand clears set reference bits as it passes and stops
// at the first entry whose bit is clear, which is therefore one not read
// since the hand last came by.
//
// The zero value is an empty ring. All methods require Cache.mu.
type clock struct {
	hand *entry // next entry to examine; nil when the ring is empty
	n    int    // entries on the ring
}

// insert puts e on the ring behind the hand.
func (c *clock) insert(e *entry) {
	c.n++
	if c.hand == nil {
		e.next, e.prev = e, e
		c.hand = e
		return
	}
	e.next, e.prev = c.hand, c.hand.prev
	c.hand.prev.next = e
	c.hand.prev = e
}

// remove takes e off the ring, moving the hand on if it pointed at e.
func (c *clock) remove(e *entry) {
	c.n--
	if c.n == 0 {
		c.hand = nil
	} else {
		if c.hand == e {
			c.hand = e.next
		}
		e.prev.next, e.next.prev = e.next, e.prev
	}
	e.next, e.prev = nil, nil
}

// victim returns the entry to evict next without removing it, or nil if the
// ring is empty. Gets may set bits behind the hand while it sweeps, so the
// sweep is bounded: after two full turns the entry under the hand is chosen
// whatever its bit.
func (c *clock) victim() *entry {
	for i := 0; c.hand != nil && i < 2*c.n; i++ {
		if !c.hand.ref.Load() {
			return c.hand
		}
		c.hand.ref.Store(false)
		c.hand = c.hand.next
	}
	return c.hand
}
