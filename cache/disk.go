package cache

import (
	"container/list"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The demotion queue is bounded twice: by entries, so the channel is small,
// and by bytes, because queued values are held in memory outside the memory
// budget until written.
const (
	demoteQueueLen   = 256
	demoteQueueBytes = 64 << 20
)

// disk is the immutable configuration of the disk tier. Its state lives in
// Cache.mu.disk.
type disk struct {
	dir    string
	budget int64
	queue  chan *demotion // to writeLoop; sent to with Cache.mu held, never blocking
}

// diskEntry is one file of the disk tier.
type diskEntry struct {
	key  string
	id   uint64 // names the file; never reused within a process
	size int64  // of the file, header included
	elem *list.Element
}

// demotion is a value evicted from memory and waiting to be written.
type demotion struct {
	key   string
	value []byte

	cancelled bool // guarded by Cache.mu: Put or Delete superseded it
}

// diskIndex is the disk tier's state, guarded by Cache.mu. bytes counts
// committed files plus the one being written, so it never exceeds the
// budget even mid-write.
type diskIndex struct {
	index        map[string]*diskEntry
	lru          list.List // of *diskEntry, most recently used at the front
	bytes        int64
	pending      map[string]*demotion // queued or being written, by key
	pendingBytes int64                // value bytes in the queue
	nextID       uint64
}

func (d *diskIndex) init() {
	d.index = make(map[string]*diskEntry)
	d.pending = make(map[string]*demotion)
}

// has reports whether the disk tier holds or is about to hold key.
func (d *diskIndex) has(key string) bool {
	return d.index[key] != nil || d.pending[key] != nil
}

// openDisk prepares dir for a new disk tier, removing the cache files a
// previous process left in it.
func openDisk(dir string, budget int64) (*disk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	for _, de := range des {
		if strings.HasPrefix(de.Name(), filePrefix) {
			if err := os.Remove(filepath.Join(dir, de.Name())); err != nil {
				return nil, fmt.Errorf("cache: wiping %s: %w", dir, err)
			}
		}
	}
	return &disk{dir: dir, budget: budget, queue: make(chan *demotion, demoteQueueLen)}, nil
}

func (d *disk) path(id uint64) string {
	return filepath.Join(d.dir, fmt.Sprintf("%s%016x", filePrefix, id))
}

// getDisk serves a memory miss from the disk tier and promotes the value.
// The file is read without c.mu held.
func (c *Cache) getDisk(key string) ([]byte, bool) {
	c.mu.Lock()
	if j := c.mu.disk.pending[key]; j != nil {
		// Evicted moments ago and not yet written: serve it from the queue.
		// The write goes on, so a later eviction need not write it again.
		if c.lookup(key) == nil {
			c.insertLocked(key, j.value)
		}
		c.mu.Unlock()
		return j.value, true
	}
	de := c.mu.disk.index[key]
	if de == nil {
		c.mu.Unlock()
		return nil, false
	}
	c.mu.disk.lru.MoveToFront(de.elem)
	c.mu.Unlock()

	v, err := readFile(c.disk.path(de.id), key)

	c.mu.Lock()
	current := c.mu.disk.index[key] == de // not evicted, deleted or replaced meanwhile
	var stale []string
	switch {
	case err != nil && current:
		// A torn or corrupt file: a miss, and the file goes.
		c.stats.diskErrors.Add(1)
		stale = append(stale, c.dropDiskLocked(de))
	case err != nil:
		// Evicted while we read it: an ordinary miss.
	case current && c.lookup(key) == nil:
		c.insertLocked(key, v)
	}
	c.mu.Unlock()
	removeFiles(stale)
	return v, err == nil
}

// demoteLocked queues a value evicted from memory for writing to disk,
// unless the disk already has it or the queue is full.
func (c *Cache) demoteLocked(e *entry) {
	d := &c.mu.disk
	if de := d.index[e.key]; de != nil {
		d.lru.MoveToFront(de.elem) // inclusive tiers: already written
		return
	}
	if d.pending[e.key] != nil || c.mu.closed {
		return
	}
	if fileSize(e.key, e.value) > c.disk.budget || d.pendingBytes+int64(len(e.value)) > demoteQueueBytes {
		c.stats.demotionsDropped.Add(1)
		return
	}
	j := &demotion{key: e.key, value: e.value}
	select {
	case c.disk.queue <- j:
		d.pending[e.key] = j
		d.pendingBytes += int64(len(j.value))
	default:
		c.stats.demotionsDropped.Add(1)
	}
}

// forgetDiskLocked removes key from the disk tier, cancelling a queued
// write, and returns the files for the caller to remove once c.mu is
// released.
func (c *Cache) forgetDiskLocked(key string) []string {
	d := &c.mu.disk
	if j := d.pending[key]; j != nil {
		j.cancelled = true
		delete(d.pending, key)
	}
	if de := d.index[key]; de != nil {
		return []string{c.dropDiskLocked(de)}
	}
	return nil
}

// dropDiskLocked removes de from the index and returns its file's path.
func (c *Cache) dropDiskLocked(de *diskEntry) string {
	d := &c.mu.disk
	delete(d.index, de.key)
	d.lru.Remove(de.elem)
	d.bytes -= de.size
	return c.disk.path(de.id)
}

// writeLoop writes queued demotions until Close closes the queue.
func (c *Cache) writeLoop() {
	defer c.wg.Done()
	for j := range c.disk.queue {
		c.writeDemotion(j)
	}
}

// writeDemotion writes one demoted value. It reserves the file's size
// first, evicting least recently used files, so the budget holds while the
// file is being written.
func (c *Cache) writeDemotion(j *demotion) {
	d := &c.mu.disk
	size := fileSize(j.key, j.value)

	c.mu.Lock()
	if j.cancelled || c.mu.closed {
		c.finishDemotionLocked(j)
		c.mu.Unlock()
		return
	}
	var victims []string
	for d.bytes+size > c.disk.budget && d.lru.Len() > 0 {
		victims = append(victims, c.dropDiskLocked(d.lru.Back().Value.(*diskEntry)))
		c.stats.diskEvictions.Add(1)
	}
	d.bytes += size
	id := d.nextID
	d.nextID++
	c.mu.Unlock()

	removeFiles(victims)
	path := c.disk.path(id)
	err := writeFile(path, j.key, j.value)

	c.mu.Lock()
	c.finishDemotionLocked(j)
	if err != nil || j.cancelled {
		d.bytes -= size
		c.mu.Unlock()
		if err != nil {
			c.stats.diskErrors.Add(1)
		}
		removeFiles([]string{path})
		return
	}
	var stale []string
	if old := d.index[j.key]; old != nil { // not expected: one live demotion per key
		stale = append(stale, c.dropDiskLocked(old))
	}
	de := &diskEntry{key: j.key, id: id, size: size}
	de.elem = d.lru.PushFront(de)
	d.index[j.key] = de
	c.mu.Unlock()
	removeFiles(stale)
}

// finishDemotionLocked takes j out of the queue's accounting.
func (c *Cache) finishDemotionLocked(j *demotion) {
	d := &c.mu.disk
	if d.pending[j.key] == j {
		delete(d.pending, j.key)
	}
	d.pendingBytes -= int64(len(j.value))
}

// removeFiles removes files of the disk tier. Errors are ignored: a file
// that cannot be removed is no longer indexed, so it is never read, and the
// next New removes it.
func removeFiles(paths []string) {
	for _, p := range paths {
		_ = os.Remove(p)
	}
}
