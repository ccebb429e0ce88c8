package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrClosed is returned by GetOrFill for a key that is not cached once the
// Cache is closed: no new fill can start.
var ErrClosed = errors.New("cache: closed")

// Options configures a Cache. The zero value is a 1 GiB memory-only cache.
type Options struct {
	// MemoryBytes is the budget of the memory tier, charged as Charge says.
	// Zero means 1 GiB, the default of the agent's --cache-size.
	MemoryBytes int64
	// Dir, if set, enables a disk tier in this directory (the agent's
	// --cache-dir), created if missing. The cache's files in it are removed
	// when the Cache is opened; other files are left alone.
	Dir string
	// DiskBytes is the budget of the disk tier, headers included. Zero means
	// 10 GiB; it is ignored when Dir is empty.
	DiskBytes int64
	// Registerer, if set, receives the silt_cache_* metrics: hits_total{tier},
	// misses_total, bytes{tier}, entries{tier}, evictions_total{tier},
	// fills_total, fill_errors_total, dropped_total{what}. They are read
	// from Stats at scrape time, so they cost nothing on the hit path.
	Registerer prometheus.Registerer
	// MaxPrefetches bounds the prefetches running at once; more are dropped.
	// Zero means 4.
	MaxPrefetches int
	// FillTimeout bounds every fill, including prefetches that nobody waits
	// for. Zero means one minute.
	FillTimeout time.Duration
}

// defaults holds every default in one place.
var defaults = Options{
	MemoryBytes:   1 << 30,     // the agent's --cache-size default
	DiskBytes:     10 << 30,    // used only with Dir
	MaxPrefetches: 4,           // a few sequential consumers reading ahead at once
	FillTimeout:   time.Minute, // a ranged GET of one chunk takes far less
}

// withDefaults returns o with zero fields replaced by defaults, or an error
// for values that cannot be meant. It does not modify the caller's Options.
func (o Options) withDefaults() (Options, error) {
	if o.MemoryBytes < 0 || o.DiskBytes < 0 || o.MaxPrefetches < 0 || o.FillTimeout < 0 {
		return o, fmt.Errorf("cache: negative option in %+v", o)
	}
	if o.MemoryBytes == 0 {
		o.MemoryBytes = defaults.MemoryBytes
	}
	if o.DiskBytes == 0 {
		o.DiskBytes = defaults.DiskBytes
	}
	if o.MaxPrefetches == 0 {
		o.MaxPrefetches = defaults.MaxPrefetches
	}
	if o.FillTimeout == 0 {
		o.FillTimeout = defaults.FillTimeout
	}
	return o, nil
}

// Cache is a byte-budgeted cache of immutable values with an optional disk
// tier, single-flight fills and read-ahead. See the package documentation
// for the design and the concurrency contract.
type Cache struct {
	opts Options // with defaults applied; immutable
	disk *disk   // nil without a disk tier; immutable configuration only

	// index maps a key to its *entry in the memory tier. It is written only
	// with mu held and read without it, which keeps the hit path lock-free.
	index sync.Map

	ctx    context.Context // parent of every fill; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // fills and the disk writer

	closeOnce sync.Once
	stats     counters

	// mu serializes every change to the cache; the fields inside it are
	// guarded by it, and so is the ring linkage of each entry.
	mu struct {
		sync.Mutex
		closed bool

		clock    clock // the memory tier's entries, in CLOCK order
		memBytes int64 // sum of the charges on clock

		flights     map[string]*flight // fills that callers can join, by key
		running     int                // fill goroutines, joinable or not
		prefetching int                // of which started by Prefetch

		disk diskIndex // the disk tier's entries; empty without one
	}
}

// New returns a Cache. With Options.Dir set it creates the directory if
// needed and removes the cache files a previous process left there.
func New(opts Options) (*Cache, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cache{opts: opts}
	c.mu.flights = make(map[string]*flight)
	if opts.Dir != "" {
		if c.disk, err = openDisk(opts.Dir, opts.DiskBytes); err != nil {
			return nil, err
		}
		c.mu.disk.init()
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(newCollector(c)); err != nil {
			return nil, fmt.Errorf("cache: registering metrics: %w", err)
		}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.disk != nil {
		c.wg.Add(1)
		go c.writeLoop()
	}
	return c, nil
}

// Get returns the value cached for key: from memory, else from disk, in
// which case it is promoted to memory. The value is shared with every other
// reader and must not be modified.
func (c *Cache) Get(key string) ([]byte, bool) {
	if e := c.lookup(key); e != nil {
		if !e.ref.Load() { // once set, hits only read the entry
			e.ref.Store(true)
		}
		c.stats.memHits.add(1)
		return e.value, true
	}
	if c.disk != nil {
		if v, ok := c.getDisk(key); ok {
			c.stats.diskHits.Add(1)
			return v, true
		}
	}
	c.stats.misses.Add(1)
	return nil, false
}

// lookup returns key's memory entry, or nil.
func (c *Cache) lookup(key string) *entry {
	if e, ok := c.index.Load(key); ok {
		return e.(*entry)
	}
	return nil
}

// Put stores value under key, replacing any value cached for it in either
// tier. The agent calls it with the chunks it has just written, so tailing
// consumers are served without a GET. The cache keeps value: the caller
// must not modify it afterwards. A value whose charge exceeds the memory
// budget is not cached.
func (c *Cache) Put(key string, value []byte) {
	c.mu.Lock()
	var stale []string
	if c.disk != nil {
		stale = c.forgetDiskLocked(key)
	}
	if Charge(key, value) <= c.opts.MemoryBytes {
		c.insertLocked(key, value)
	} else if e := c.lookup(key); e != nil {
		c.removeLocked(e)
	}
	c.mu.Unlock()
	removeFiles(stale)
}

// Delete removes key from both tiers. A fill of key already running still
// answers its waiters but does not cache its value. Deleting a key that is
// not cached is a no-op.
func (c *Cache) Delete(key string) {
	c.mu.Lock()
	if e := c.lookup(key); e != nil {
		c.removeLocked(e)
	}
	if f := c.mu.flights[key]; f != nil {
		f.deleted = true
		delete(c.mu.flights, key)
	}
	var stale []string
	if c.disk != nil {
		stale = c.forgetDiskLocked(key)
	}
	c.mu.Unlock()
	removeFiles(stale)
}

// Close cancels running fills and prefetches, stops the disk writer and
// waits for all of them. It is idempotent and always returns nil; every call
// waits. After Close, Get and Put still work on what is cached, but
// GetOrFill of a missing key returns ErrClosed and Prefetch does nothing.
// Disk files are left for the next New to remove.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.mu.closed = true // no fill or demotion starts from here on
		c.mu.Unlock()
		c.cancel()
		if c.disk != nil {
			close(c.disk.queue)
		}
	})
	c.wg.Wait()
	return nil
}

// insertLocked makes key's memory entry hold value, evicting until it fits.
// The caller has checked that the charge fits the budget at all.
func (c *Cache) insertLocked(key string, value []byte) {
	if old := c.lookup(key); old != nil {
		c.removeLocked(old)
	}
	e := &entry{key: key, value: value, charge: Charge(key, value)}
	for c.mu.memBytes+e.charge > c.opts.MemoryBytes {
		v := c.mu.clock.victim()
		c.removeLocked(v)
		c.stats.evictions.Add(1)
		if c.disk != nil {
			c.demoteLocked(v)
		}
	}
	c.mu.clock.insert(e)
	c.mu.memBytes += e.charge
	c.index.Store(key, e)
}

// removeLocked takes e out of the memory tier.
func (c *Cache) removeLocked(e *entry) {
	c.mu.clock.remove(e)
	c.mu.memBytes -= e.charge
	c.index.Delete(e.key)
}
