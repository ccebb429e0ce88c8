package journal

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
)

// commitSegment gives each chunk's accepted batches their offsets. A batch
// is rejected (and skipped by fetches) if its idempotent producer's sequence
// shows it is a duplicate or out of order; a duplicate's result carries the
// offset of the original, so the producer's retry is answered as the first
// attempt would have been.
func (s *State) commitSegment(c *CommitSegment) Result {
	res := Result{Chunks: make([][]BatchResult, len(c.Chunks))}
	object, base := c.Object, int64(0)
	if c.Inline {
		if s.entryDataOffset == 0 {
			// An inline segment in an entry that carries no data: no
			// writer does this; refuse rather than point at nothing.
			for i := range res.Chunks {
				res.Chunks[i] = failChunk(&c.Chunks[i], kerr.CorruptMessage.Code)
			}
			return res
		}
		object, base = EntryKey(s.Seq), s.entryDataOffset+c.DataPos
		res.Object, res.Base = object, base
	}
	for i := range c.Chunks {
		res.Chunks[i] = s.commitChunk(object, base, &c.Chunks[i])
	}
	return res
}

func failChunk(cc *ChunkCommit, code int16) []BatchResult {
	out := make([]BatchResult, len(cc.Batches))
	for j := range out {
		out[j] = BatchResult{Code: code, BaseOffset: -1, LogStartOffset: -1}
	}
	return out
}

// commitChunk commits one chunk, stored in object at base+cc.Pos.
func (s *State) commitChunk(object string, base int64, cc *ChunkCommit) []BatchResult {
	out := make([]BatchResult, len(cc.Batches))
	t := s.Topics[cc.Topic]
	if t == nil || t.ID != cc.TopicID || cc.Partition < 0 || int(cc.Partition) >= len(t.Partitions) {
		for j := range out {
			out[j] = BatchResult{Code: kerr.UnknownTopicOrPartition.Code, BaseOffset: -1, LogStartOffset: -1}
		}
		return out
	}
	p := t.Partitions[cc.Partition]
	key := partitionKey(cc.Topic, cc.Partition)
	chunk := Chunk{
		Object: object, Pos: base + cc.Pos, Len: cc.Len, RawLen: cc.RawLen, Codec: cc.Codec, CRC: cc.CRC,
		BaseOffset: p.NextOffset, MaxTimestamp: math.MinInt64, Written: s.Time,
	}
	for j, b := range cc.Batches {
		if b.Records <= 0 {
			out[j] = BatchResult{Code: kerr.CorruptMessage.Code, BaseOffset: -1}
			chunk.Skip = append(chunk.Skip, int32(j))
			continue
		}
		if b.Txn {
			if code := s.admitTxnBatch(cc.Topic, cc.Partition, &b); code != 0 {
				out[j] = BatchResult{Code: code, BaseOffset: -1}
				chunk.Skip = append(chunk.Skip, int32(j))
				continue
			}
		}
		if b.ProducerID >= 0 {
			offset, code, dup := s.checkSequence(key, &b, p.NextOffset)
			if code != 0 || dup {
				out[j] = BatchResult{Code: code, BaseOffset: offset, Duplicate: dup}
				chunk.Skip = append(chunk.Skip, int32(j))
				continue
			}
		}
		out[j] = BatchResult{BaseOffset: p.NextOffset}
		if b.Txn {
			if _, open := p.OpenTxns[b.ProducerID]; !open {
				if p.OpenTxns == nil {
					p.OpenTxns = map[int64]int64{}
				}
				p.OpenTxns[b.ProducerID] = p.NextOffset
			}
		}
		p.NextOffset += int64(b.Records)
		chunk.MaxTimestamp = max(chunk.MaxTimestamp, b.MaxTimestamp)
	}
	if p.NextOffset > chunk.BaseOffset {
		chunk.NextOffset = p.NextOffset
		p.Chunks = append(p.Chunks, chunk)
	}
	for j := range out {
		out[j].LogStartOffset = p.StartOffset
	}
	return out
}

// checkSequence applies Kafka's idempotent-producer rules to a batch about
// to be given offset next. It returns a non-zero code to reject it, or dup
// with the original offset for a retry of a batch already committed.
func (s *State) checkSequence(key string, b *Batch, next int64) (offset int64, code int16, dup bool) {
	if b.ProducerID >= s.NextProducerID {
		return -1, kerr.UnknownProducerID.Code, false // never allocated here
	}
	lastSeq := addSeq(b.BaseSequence, b.Records-1)
	p := s.Producers[b.ProducerID]
	switch {
	case p == nil:
		// No state (new, or expired): any sequence starts the history.
		p = &Producer{Epoch: b.ProducerEpoch}
		s.Producers[b.ProducerID] = p
	case b.ProducerEpoch < p.Epoch:
		return -1, kerr.InvalidProducerEpoch.Code, false
	case b.ProducerEpoch > p.Epoch:
		if b.BaseSequence != 0 {
			return -1, kerr.OutOfOrderSequenceNumber.Code, false
		}
		p.Epoch = b.ProducerEpoch
		p.Partitions = nil
	default:
		hist := p.Partitions[key]
		for _, h := range hist {
			if h.FirstSeq == b.BaseSequence && h.LastSeq == lastSeq {
				return h.BaseOffset, 0, true
			}
		}
		if n := len(hist); n > 0 && b.BaseSequence != addSeq(hist[n-1].LastSeq, 1) {
			return -1, kerr.OutOfOrderSequenceNumber.Code, false
		}
	}
	if p.Partitions == nil {
		p.Partitions = map[string][]ProducedBatch{}
	}
	hist := append(p.Partitions[key], ProducedBatch{FirstSeq: b.BaseSequence, LastSeq: lastSeq, BaseOffset: next})
	if len(hist) > MaxProducerBatches {
		hist = append([]ProducedBatch(nil), hist[len(hist)-MaxProducerBatches:]...)
	}
	p.Partitions[key] = hist
	p.LastSeen = s.Time
	return next, 0, false
}

// addSeq adds to a sequence number, wrapping past MaxInt32 to 0 as Kafka's
// producers do.
func addSeq(seq, n int32) int32 {
	return int32((int64(seq) + int64(n)) % (math.MaxInt32 + 1))
}
