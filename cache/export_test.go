package cache

import (
	"errors"
	"time"
)

// Hooks for the external tests: they observe state that the API does not
// expose, without changing it.

// Resident reports whether key is in the memory tier, without counting a
// hit or setting its reference bit.
func Resident(c *Cache, key string) bool { return c.lookup(key) != nil }

// OnDisk reports whether key has a written file in the disk tier.
func OnDisk(c *Cache, key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.disk.index[key] != nil
}

// DiskPath returns the file holding key, or "" if none.
func DiskPath(c *Cache, key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if de := c.mu.disk.index[key]; de != nil {
		return c.disk.path(de.id)
	}
	return ""
}

// Waiters returns how many callers wait on key's fill (a prefetch counts
// one), or 0 if none runs.
func Waiters(c *Cache, key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.mu.flights[key]; f != nil {
		return f.waiters
	}
	return 0
}

// WaitIdle waits until no fill runs and no demotion is queued.
func WaitIdle(c *Cache) error {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		idle := c.mu.running == 0 && len(c.mu.disk.pending) == 0 && c.mu.disk.pendingBytes == 0
		c.mu.Unlock()
		if idle {
			return nil
		}
	}
	return errors.New("cache did not become idle in 5s")
}

const FilePrefix = filePrefix

var (
	DecodeFile   = decodeFile
	EncodeHeader = encodeHeader
	ErrCorrupt   = errCorrupt
)
