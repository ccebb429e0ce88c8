// Package chunkread turns a committed chunk, as the journal describes it,
// into the record batches a fetch serves: read (one ranged GET), check and
// decode (segment), then patch each batch's offsets (recordbatch). The
// agent's fetch path and the compactor both read chunks this way, so a
// merged object holds exactly the bytes a consumer was served before the
// merge.
//
// # Invariants
//
//   - A chunk's batches are stored with placeholder base offsets; the
//     journal entry that committed the chunk assigned its offsets. Decode
//     writes BaseOffset = the journal's BaseOffset, plus each earlier kept
//     batch's LastOffsetDelta+1, and the constant [LeaderEpoch] into every
//     kept batch header (neither is covered by the batch CRC).
//   - The batches the journal rejected at commit (Chunk.Skip: idempotent
//     duplicates, sequence errors) are dropped; a consumer never sees them.
//   - The kept batches must end exactly at the journal's NextOffset. If
//     they do not, the chunk and the journal disagree and nothing is
//     served: the error names both numbers.
//   - Errors say which object and position failed; bytes from the bucket
//     never cause a panic (segment.DecodeChunk and recordbatch.Patch check
//     everything they read).
//
// # Steps
//
// [Read] fetches the stored bytes with objstore.ReadRange and calls
// [Decode]: segment.DecodeChunk checks the CRC and decompresses, then
// recordbatch.Patch patches the headers and drops the skipped batches.
//
// # Rejected
//
// Each reader keeping its own copy of these steps, as the agent and the
// compactor once did: the two drifted (one epoch constant each) and a fix
// to one, such as the NextOffset check, had to be found and made twice.
package chunkread

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/recordbatch"
	"github.com/silt-io/silt/segment"
)

// LeaderEpoch is the partition leader epoch silt reports and patches into
// batches. The log is never truncated, so there is nothing for clients to
// fence or reconcile with epochs; one constant epoch says so.
const LeaderEpoch = 0

// Read reads a committed chunk with one ranged GET and returns its batches
// with their offsets patched in (see Decode). The result is a fresh slice
// the caller owns.
func Read(ctx context.Context, bucket objstore.Reader, ch journal.Chunk) ([]byte, error) {
	if ch.Marker != nil {
		return MarkerBatch(ch)
	}
	stored, err := objstore.ReadRange(ctx, bucket, ch.Object, ch.Pos, ch.Len)
	if err != nil {
		return nil, fmt.Errorf("read chunk %s@%d: %w", ch.Object, ch.Pos, err)
	}
	return Decode(ch, stored)
}

// Decode is Read after the GET: it checks and decodes the stored bytes of
// ch, drops the batches the journal skipped, patches the others' offsets
// and epoch, and checks that they end at ch.NextOffset. stored may be
// modified.
func Decode(ch journal.Chunk, stored []byte) ([]byte, error) {
	raw, err := segment.DecodeChunk(segment.ChunkInfo{
		Pos: ch.Pos, Len: ch.Len, RawLen: ch.RawLen, Codec: segment.Codec(ch.Codec), CRC: ch.CRC,
	}, stored)
	if err != nil {
		return nil, fmt.Errorf("decode chunk %s@%d: %w", ch.Object, ch.Pos, err)
	}
	skip := make([]int, len(ch.Skip))
	for i, s := range ch.Skip {
		skip[i] = int(s)
	}
	patched, next, err := recordbatch.Patch(raw, ch.BaseOffset, LeaderEpoch, skip)
	if err != nil {
		return nil, fmt.Errorf("patch chunk %s@%d: %w", ch.Object, ch.Pos, err)
	}
	if next != ch.NextOffset {
		return nil, fmt.Errorf("chunk %s@%d: batches end at offset %d, the journal says %d", ch.Object, ch.Pos, next, ch.NextOffset)
	}
	return patched, nil
}

// MarkerBatch returns the control batch of a transaction marker chunk
// (journal.Chunk.Marker): Kafka's commit or abort marker for the
// producer, at the chunk's offset, as a broker writes it: a transactional
// control batch of one record whose key is the ControlRecordKey (type 1
// commit, 0 abort) and whose value is the EndTxnMarker (coordinator epoch
// 0: silt's markers are written by the journal, not by a coordinator that
// can be fenced).
func MarkerBatch(ch journal.Chunk) ([]byte, error) {
	m := ch.Marker
	if m == nil {
		return nil, fmt.Errorf("chunk at offset %d is no marker", ch.BaseOffset)
	}
	key := kmsg.ControlRecordKey{Type: kmsg.ControlRecordKeyTypeAbort}
	if m.Commit {
		key.Type = kmsg.ControlRecordKeyTypeCommit
	}
	value := kmsg.EndTxnMarker{}
	h := recordbatch.Header{
		BaseOffset: ch.BaseOffset, PartitionLeaderEpoch: LeaderEpoch,
		Attributes:     recordbatch.AttrTransactional | recordbatch.AttrControl,
		FirstTimestamp: m.Time, MaxTimestamp: m.Time,
		ProducerID: m.ProducerID, ProducerEpoch: m.Epoch, BaseSequence: -1,
	}
	rec := recordbatch.Record{Timestamp: m.Time, Key: key.AppendTo(nil), Value: value.AppendTo(nil)}
	b, err := recordbatch.Encode(h, []recordbatch.Record{rec}, recordbatch.CodecNone)
	if err != nil {
		return nil, fmt.Errorf("marker at offset %d: %w", ch.BaseOffset, err)
	}
	return b, nil
}
