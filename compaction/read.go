package compaction

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/chunkread"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/recordbatch"
)

// ReadFunc returns a committed chunk's batches with their offsets patched
// in, as a fetch serves them. The bytes may be shared (a cache entry):
// callers must not modify them. An agent passes its cached reader; the
// default is ReadChunk on the bucket.
type ReadFunc func(ctx context.Context, ch journal.Chunk) ([]byte, error)

// ReadChunk reads a committed chunk with one ranged GET and patches its
// offsets exactly as the agent's fetch path does: it is chunkread.Read,
// which both use. The result is a fresh slice the caller owns.
func ReadChunk(ctx context.Context, bucket objstore.Reader, ch journal.Chunk) ([]byte, error) {
	return chunkread.Read(ctx, bucket, ch)
}

// BucketReader returns a ReadFunc reading from bucket.
func BucketReader(bucket objstore.Reader) ReadFunc {
	return func(ctx context.Context, ch journal.Chunk) ([]byte, error) { return ReadChunk(ctx, bucket, ch) }
}

// Record is one record read back from the log: what `silt cat` prints and
// the export writes.
type Record struct {
	Offset    int64
	Timestamp int64 // unix ms
	// TimestampType is 0 for CreateTime, 1 for LogAppendTime.
	TimestampType int8
	Key, Value    []byte // nil: null
	Headers       []kmsg.Header
}

// maxBatchRecordsBytes bounds the decompressed records section of one batch
// read back, as the agent's ListOffsets does.
const maxBatchRecordsBytes = 256 << 20

// ScanOptions bounds a Scan.
type ScanOptions struct {
	// From and To bound the offsets: records in [From, To) are yielded.
	// To 0 means no bound.
	From, To int64
	// Readahead is the number of chunks read ahead of the one decoded;
	// default 4.
	Readahead int
	// Batch, if set, is called with each batch's bytes (patched, shared)
	// before its records: export counts bytes with it.
	Batch func(b recordbatch.Batch)
	// Aborted is the partition's aborted-transaction index: the batches
	// of aborted transactions are skipped, as a read_committed consumer
	// drops them. Readers of committed data also set To at most at the
	// partition's last stable offset.
	Aborted []journal.AbortedTxn
}

// abortedBatch reports whether a transactional batch belongs to an aborted
// transaction: its producer's aborted range holds its first offset.
func abortedBatch(aborted []journal.AbortedTxn, b recordbatch.Batch) bool {
	if !b.Transactional() {
		return false
	}
	for _, a := range aborted {
		if a.ProducerID == b.ProducerID && a.FirstOffset <= b.BaseOffset && b.BaseOffset <= a.LastOffset {
			return true
		}
	}
	return false
}

// Scan reads chunks in order, with up to Readahead GETs in flight, and
// calls fn with every record whose offset is in [From, To). The Record is
// reused after the call, but the slices in it alias the chunk bytes read
// (or a batch's decompressed records), which nothing modifies, so they may
// be kept. Control batches, and those of aborted transactions
// (ScanOptions.Aborted), are skipped. fn returning an error stops the
// scan with that error.
func Scan(ctx context.Context, read ReadFunc, chunks []journal.Chunk, opts ScanOptions, fn func(r *Record) error) error {
	if opts.Readahead <= 0 {
		opts.Readahead = 4
	}
	// Only the chunks holding offsets in range.
	for len(chunks) > 0 && chunks[0].NextOffset <= opts.From {
		chunks = chunks[1:]
	}
	if opts.To > 0 {
		for len(chunks) > 0 && chunks[len(chunks)-1].BaseOffset >= opts.To {
			chunks = chunks[:len(chunks)-1]
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		data []byte
		err  error
	}
	pending := make(chan chan result, opts.Readahead)
	go func() {
		defer close(pending)
		for _, ch := range chunks {
			rc := make(chan result, 1)
			select {
			case pending <- rc:
			case <-ctx.Done():
				return
			}
			go func() {
				data, err := read(ctx, ch)
				rc <- result{data, err}
			}()
		}
	}()
	var rec Record
	for rc := range pending {
		var res result
		select {
		case res = <-rc:
		case <-ctx.Done():
			return ctx.Err()
		}
		if res.err != nil {
			return res.err
		}
		for b, err := range recordbatch.Iterate(res.data) {
			if err != nil {
				return err
			}
			if b.LastOffset() < opts.From || b.Control() || abortedBatch(opts.Aborted, b) {
				continue
			}
			if opts.To > 0 && b.BaseOffset >= opts.To {
				break
			}
			if opts.Batch != nil {
				opts.Batch(b)
			}
			records, err := recordbatch.Records(b.Bytes, maxBatchRecordsBytes)
			if err != nil {
				return fmt.Errorf("batch at offset %d: %w", b.BaseOffset, err)
			}
			tsType := b.TimestampType()
			for i := range records {
				r := &records[i]
				if r.Offset < opts.From || (opts.To > 0 && r.Offset >= opts.To) {
					continue
				}
				rec = Record{Offset: r.Offset, Timestamp: r.Timestamp, TimestampType: tsType,
					Key: r.Key, Value: r.Value, Headers: r.Headers}
				if err := fn(&rec); err != nil {
					return err
				}
			}
		}
	}
	return ctx.Err()
}
