package agent

import (
	"context"

	"github.com/silt-io/silt/agent/writer"
	"github.com/silt-io/silt/chunkread"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// leaderEpoch is the partition leader epoch silt reports: see
// chunkread.LeaderEpoch, which the read path patches into batches.
const leaderEpoch = chunkread.LeaderEpoch

// chunkCacheKey names a chunk in the cache: the key the writer fills it
// under.
func chunkCacheKey(object string, pos int64) string { return writer.CacheKey(object, pos) }

// readChunk returns a committed chunk's batches with their offsets patched
// in, from the cache or with one ranged GET. The bytes are shared: callers
// must not modify them.
func (a *Agent) readChunk(ctx context.Context, ch journal.Chunk) ([]byte, error) {
	if ch.Marker != nil {
		// A transaction marker has no object: its control batch is
		// built from the journal's state (78 bytes, not worth caching).
		return chunkread.MarkerBatch(ch)
	}
	// A fetch woken by the commit of this agent's own segment can run
	// before the writer has cached the segment's chunks: wait for that
	// (moments) rather than GET what is in memory.
	if done := a.writer.Committed(ch.Object); done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return a.cache.GetOrFill(ctx, chunkCacheKey(ch.Object, ch.Pos), a.chunkFill(ch))
}

// prefetchChunk starts reading a chunk into the cache in the background,
// for a consumer that will want it next; not one the writer is about to
// cache.
func (a *Agent) prefetchChunk(ch journal.Chunk) {
	if ch.Marker != nil {
		return
	}
	if a.writer.Committed(ch.Object) != nil {
		return
	}
	a.cache.Prefetch(chunkCacheKey(ch.Object, ch.Pos), a.chunkFill(ch))
}

func (a *Agent) chunkFill(ch journal.Chunk) func(ctx context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) { return chunkread.Read(ctx, a.bucket, ch) }
}

// batchesFrom returns the suffix of patched batches whose last offset is at
// or after offset: a fetch returns whole batches, starting with the one
// holding the offset asked for.
func batchesFrom(patched []byte, offset int64) []byte {
	b := patched
	for len(b) >= recordbatch.HeaderSize {
		h, err := recordbatch.ParseHeader(b)
		if err != nil || h.Size() > len(b) {
			return b
		}
		if h.LastOffset() >= offset {
			return b
		}
		b = b[h.Size():]
	}
	return b
}

// countRecords sums the record counts of whole batches.
func countRecords(b []byte) int64 {
	var n int64
	for len(b) >= recordbatch.HeaderSize {
		h, err := recordbatch.ParseHeader(b)
		if err != nil || h.Size() > len(b) {
			break
		}
		n += int64(h.NumRecords)
		b = b[h.Size():]
	}
	return n
}
