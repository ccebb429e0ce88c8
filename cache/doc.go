// Package cache keeps decoded segment chunks close to the fetch path: a
// byte-budgeted memory tier, an optional disk tier below it, single-flight
// fills and read-ahead.
//
// The cache is generic. Keys are strings (silt uses "<segment id>/<chunk
// pos>"), values are immutable []byte, and the caller supplies the fill
// function that does the ranged GET, so the package imports nothing from
// silt. Agents are stateless (DESIGN.md, principle 3): everything here is a
// cache, and losing all of it costs object-store requests, never data.
//
// # Tiers
//
// The memory tier holds values up to Options.MemoryBytes, each charged
// len(key) + len(value) plus a fixed estimate of its bookkeeping (see
// Charge). The budget is never exceeded: room is made before an entry is
// inserted, and a value that could never fit is not cached.
//
// Replacement is CLOCK (second chance), not exact LRU. Entries sit on a
// ring; a hit only sets the entry's reference bit, and eviction sweeps a hand
// round the ring, clearing set bits and evicting the first entry whose bit
// is clear. An entry used since the hand last passed survives a sweep, so
// recently read chunks stay resident much as under LRU, but a hit needs no
// lock, and once the bit is set it writes nothing but a striped hit counter.
//
// When Options.Dir is set, entries evicted from memory are demoted to a disk
// tier of at most Options.DiskBytes, itself an exact LRU (disk hits are slow
// enough that a list update under the lock costs nothing). The tiers are
// inclusive: a disk hit is promoted to memory and its file is kept, so a
// chunk that bounces between the tiers is written once. Demotions are
// written by one background goroutine fed through a queue bounded at 256
// values and 64 MiB; when the queue is full the demotion is dropped (counted
// in Stats.DemotionsDropped) rather than blocking the Put or Get that caused
// the eviction. Until its file is written a demoted value is still served
// from the queue.
//
// Each disk entry is one file, written to a temporary name and renamed, with
// a small header carrying the key, the lengths and a CRC-32C of everything
// after it. A torn, truncated or altered file fails the check and is a miss
// (the file is removed), never corrupt data. Files are not fsynced: the disk
// tier is wiped when a Cache is opened, so only consistency within one
// process matters. Only the cache's own files (named "silt-cache-*") are
// removed, so a mistyped --cache-dir cannot wipe someone's home directory;
// two caches must not share a directory.
//
// # Fills and read-ahead
//
// GetOrFill calls the fill function at most once at a time per key, however
// many callers ask (single-flight). The fill runs in its own goroutine with
// a context derived from the Cache, not from any caller: it is cancelled
// when every caller waiting for it has given up (their contexts are done),
// when Options.FillTimeout expires, or when the Cache is closed. So one
// impatient consumer does not fail a fill that others still wait for, and a
// fill nobody wants any more stops early. A successful fill is cached even if
// all its callers have left; a failed fill is not cached, and every waiter
// gets the error.
//
// Prefetch starts the same kind of fill with nobody waiting, for read-ahead
// by sequential consumers. At most Options.MaxPrefetches run at once; more
// are dropped, since read-ahead that queues behind other read-ahead arrives
// too late to help. A GetOrFill for a key being prefetched waits for that
// fill instead of starting another.
//
// # Concurrency
//
// A Cache is safe for concurrent use. All mutations (inserts, evictions,
// demotions, the disk index, the table of fills) are serialized by one mutex,
// Cache.mu. The lookup index is a sync.Map written only while holding mu and
// read without it, so the hit path takes no lock: a Get may return a value
// that a concurrent Put or eviction is removing, which is harmless because
// values are immutable, but never one removed by a Delete that returned
// before the Get began. No file I/O happens while mu is held. Returned values
// are shared by every reader and must not be modified; values passed to Put
// or returned by a fill belong to the cache from then on.
//
// Close cancels running fills, stops the disk writer and waits for every
// goroutine the Cache started. Fill functions must therefore honour their
// context.
//
// # Rejected alternatives
//
//   - Exact LRU (container/list and a map under one sync.Mutex): simple and
//     exact, but every hit moves a list element under the lock, so hits from
//     all cores serialize on it. Measured on the parallel hit benchmark it
//     did not scale past one core, while the lock-free CLOCK path did (see
//     BenchmarkGetHitParallel and the variants in cache_bench_test.go).
//   - CLOCK with a sync.RWMutex around the map: no serialization, but every
//     RLock/RUnlock still writes the mutex's reader count, one cache line
//     shared by all cores; it measured slower than the plain mutex at two
//     cores.
//   - Sharding the cache by key hash: scales, but splits the budget so a
//     shard can evict while others have room, and caps a value at one
//     shard's budget.
//   - Writing demotions synchronously: simpler, but puts disk latency on the
//     produce and fetch paths that trigger evictions.
//   - Keeping the disk tier across restarts: would need an index to recover
//     and validate against the journal (compaction replaces chunks); a fresh
//     agent refills from the bucket anyway.
//   - Fills detached from callers and bounded only by a timeout: simpler, but
//     keeps fetching chunks nobody waits for; we cancel when the last waiter
//     leaves and keep the timeout as a backstop, chiefly for prefetches.
package cache
